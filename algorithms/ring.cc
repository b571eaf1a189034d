// The ring schedule.
//
// Glossary. Ranks sit on a ring r -> r+1 (mod n); every rank receives only from `prev` and sends only to `next`.
// The data is cut into n BLOCKS, one per rank: for all-reduce the count is split into n nearly equal blocks; for
// reduce-scatter and all-gather block b is the b-th per-rank piece of `count` elements. Each block is cut into
// CHUNKS of at most chunkBytes; a step moves one chunk.
//
// Reduce-scatter phase (rank r ends owning block r fully reduced). Block b's partial sum starts at rank b+1 and
// travels b+1 -> b+2 -> ... -> b, each rank adding its own contribution. Hence on rank r:
//   step 0:           send      block r-1                        (own contribution starts the chain of r-1)
//   step j, 1..n-2:   recv block r-1-j (op) own block r-1-j -> send
//   step n-1:         recv block r (op) own block r -> final value
// All-gather phase (all-reduce, all-gather). Rank r has block X final; it sends it on, and forwards what it gets:
//   first:            final block -> recv buffer, send
//   step t, 0..n-2:   recv block r-1-t -> recv buffer (and send, except for t = n-2)
// Broadcast: the ring starts at the root; position p = r - root; p == 0 sends, the last position only receives.
// Reduce: the mirror image, a chain that starts after the root and ends at it.
//
// Pipelining: chunk k of every block is processed by all steps before chunk k+1 (the outer loop is over k), so
// the chunks of one step travel the ring back to back; a sender runs ahead of its receiver by as many chunks
// as the transport has slots. Blocks may differ in size by one element, so a block may lack chunk k: sender
// and receiver compute the same block sizes and both skip it.
#include "algorithms/ring.h"

#include <algorithm>
#include <cmath>

#include "algorithms/cost.h"
#include "algorithms/partition.h"
#include "core/datatype.h"

namespace mixccl {
namespace {

struct RingBuilder {
  const CollArgs& args;
  int rank;
  int n;
  int prev;
  int next;
  uint64_t chunk;  // elements per chunk
  Plan plan;

  // Offset of element `i` of block b in the user buffers, by collective.
  uint64_t blockBegin(int b) const {
    if (args.type == CollType::kAllReduce) return blockRange(args.count, n, b).begin;
    return static_cast<uint64_t>(b) * args.count;
  }
  uint64_t blockSize(int b) const {
    if (args.type == CollType::kAllReduce) return blockRange(args.count, n, b).size;
    return args.count;
  }
  uint64_t maxChunks() const {
    uint64_t largest = args.type == CollType::kAllReduce ? ceilDiv(args.count, n) : args.count;
    return ceilDiv(largest, chunk);
  }

  // Reduce-scatter steps for chunk k. `finalDst`: where the final block goes; `sendFinal`: forward it.
  void reduceScatterChunk(uint64_t k, bool toRecvBlock, bool sendFinal) {
    for (int j = 0; j < n; ++j) {
      int b = wrap(static_cast<int64_t>(rank) - 1 - j, n);
      Range c = chunkRange(blockSize(b), chunk, k);
      if (c.size == 0) continue;
      Slice own{BufKind::kSend, blockBegin(b) + c.begin};
      if (j == 0) {
        plan.emit(-1, next, own, {}, c.size, false);
      } else if (j < n - 1) {
        plan.emit(prev, next, own, {}, c.size, false);
      } else {
        Slice dst{BufKind::kRecv, (toRecvBlock ? blockBegin(b) : 0) + c.begin};
        plan.emit(prev, sendFinal ? next : -1, own, dst, c.size, true);
      }
    }
  }

  // All-gather forwarding steps for chunk k: receive blocks r-1, r-2, ..., r-(n-1).
  void allGatherChunk(uint64_t k) {
    for (int t = 0; t < n - 1; ++t) {
      int b = wrap(static_cast<int64_t>(rank) - 1 - t, n);
      Range c = chunkRange(blockSize(b), chunk, k);
      if (c.size == 0) continue;
      plan.emit(prev, t < n - 2 ? next : -1, {}, Slice{BufKind::kRecv, blockBegin(b) + c.begin}, c.size, false);
    }
  }

  void allReduce() {
    for (uint64_t k = 0, K = maxChunks(); k < K; ++k) {
      reduceScatterChunk(k, /*toRecvBlock=*/true, /*sendFinal=*/true);
      allGatherChunk(k);
    }
  }

  void reduceScatter() {
    for (uint64_t k = 0, K = maxChunks(); k < K; ++k) reduceScatterChunk(k, /*toRecvBlock=*/false, false);
  }

  void allGather() {
    for (uint64_t k = 0, K = maxChunks(); k < K; ++k) {
      Range c = chunkRange(args.count, chunk, k);
      plan.emit(-1, next, Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, blockBegin(rank) + c.begin}, c.size,
           false);
      allGatherChunk(k);
    }
  }

  // Reduce: a pipelined chain root+1 -> root+2 -> ... -> root; each rank adds its own chunk and passes it on, the
  // root adds the last contribution and keeps the final value.
  void reduce() {
    int pos = wrap(static_cast<int64_t>(rank) - args.root - 1, n);
    for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
      Range c = chunkRange(args.count, chunk, k);
      Slice own{BufKind::kSend, c.begin};
      if (pos == 0) {
        plan.emit(-1, next, own, {}, c.size, false);
      } else if (pos < n - 1) {
        plan.emit(prev, next, own, {}, c.size, false);
      } else {
        plan.emit(prev, -1, own, Slice{BufKind::kRecv, c.begin}, c.size, true);
      }
    }
  }

  void broadcast() {
    int pos = wrap(static_cast<int64_t>(rank) - args.root, n);
    bool last = pos == n - 1;
    for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
      Range c = chunkRange(args.count, chunk, k);
      Slice dst{BufKind::kRecv, c.begin};
      if (pos == 0) {
        plan.emit(-1, last ? -1 : next, Slice{BufKind::kSend, c.begin}, dst, c.size, false);
      } else {
        plan.emit(prev, last ? -1 : next, {}, dst, c.size, false);
      }
    }
  }
};

}  // namespace

Plan RingAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  const uint64_t chunk = chunkElements(args, ctx);
  if (n == 1) return singleRankPlan(args, chunk);
  RingBuilder b{args, ctx.rank, n, wrap(ctx.rank - 1, n), wrap(ctx.rank + 1, n), chunk, {}};
  switch (args.type) {
    case CollType::kAllReduce: b.allReduce(); break;
    case CollType::kReduceScatter: b.reduceScatter(); break;
    case CollType::kAllGather: b.allGather(); break;
    case CollType::kBroadcast: b.broadcast(); break;
    case CollType::kReduce: b.reduce(); break;
    default: break;  // point-to-point is planned by algorithms/p2p.h
  }
  b.plan.endLane();
  return std::move(b.plan);
}

double RingAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  if (n < 2) return 0;
  const LinkCost link = ringCost(ctx);
  const double bytes = fullBytes(args, n);
  const double chunk = static_cast<double>(ctx.chunkBytes);
  switch (args.type) {
    case CollType::kAllReduce: return pipelinedSeconds(link, bytes / n, 2.0 * (n - 1), chunk);
    case CollType::kAllGather:
    case CollType::kReduceScatter: return pipelinedSeconds(link, bytes / n, n - 1.0, chunk);
    default: {
      // A chain of n-1 hops: the first chunk crosses every hop, the others follow one chunk time apart.
      const double chunks = std::max(1.0, std::ceil(bytes / chunk));
      const double perChunk = link.seconds(std::min(bytes, chunk));
      return (n - 1 + chunks - 1) * perChunk;
    }
  }
}

}  // namespace mixccl

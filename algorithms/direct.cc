// The direct (one-shot) schedule.
//
// Glossary. A rank's CONTRIBUTION to a result element is its send data for that element; the result of a reduction
// is x_0 (op) x_1 (op) .. (op) x_{n-1}, combined LEFT TO RIGHT in rank order by every rank that needs it, so all of
// them compute the same bits. Data is cut into CHUNKS of at most chunkBytes.
//
// For each chunk k, in order, a rank:
//   1. SENDS: its own contribution to every rank that needs it, peers r+1, r+2, .. (mod n) in turn (all-reduce,
//      all-gather: every peer; reduce-scatter: block q of its send buffer to rank q; broadcast: the root to every
//      peer; reduce: every rank but the root to the root);
//   2. GATHERS: copies what it needs, or REDUCES it in rank order into its accumulator ACC (scratch, one chunk):
//        j = 0:          ACC = x_0                        (received from rank 0, or its own send data)
//        0 < j < n-1:    ACC = x_j (op) ACC               (x_j received, or its own data as the step's src2)
//        j = n-1:        result = x_{n-1} (op) ACC        (final: avg divides; written to the receive buffer)
// Deadlock freedom: take the rank whose lane is least advanced, in chunk k. If it is sending, each receiver is at
// least as far, so it has consumed every earlier chunk from it and a slot is free. If it is gathering, every
// sender is at least as far, so it has already sent chunk k. Either way it progresses, with any FIFO depth >= 1.
// In place, the gather of chunk k writes the receive buffer (= the send buffer) only after the chunk was sent and
// after its own contribution was read. One lane, channel 0.
//
// Two-shot all-reduce. The count is cut into n BLOCKS (blockRange), block q owned by rank q; for chunk k of every
// block, a rank: (1) sends chunk k of block q of its send data to each peer q; (2) reduces chunk k of its own block
// in rank order as above, final, into the receive buffer; (3) sends that result to every peer; (4) receives chunk
// k of every peer's block into the receive buffer. Between two ranks the messages of (1) precede those of (3) on
// both sides, so the FIFO order matches; the deadlock argument above holds round by round. In place, (4) writes
// block q of chunk k after (1) has sent it.
#include "algorithms/direct.h"

#include <algorithm>
#include <cmath>

#include "algorithms/cost.h"
#include "algorithms/partition.h"
#include "core/datatype.h"

namespace mixccl {
namespace {

struct DirectBuilder {
  const CollArgs& args;
  int rank;
  int n;
  uint64_t chunk;  // elements per chunk
  Plan plan;

  // Reduces the n contributions to `size` elements in rank order into `out`; this rank's is `own`.
  void reduceInOrder(Slice own, Slice out, uint64_t size) {
    const Slice acc{BufKind::kScratch, 0};
    for (int j = 0; j < n; ++j) {
      const bool last = j == n - 1;
      const Slice dst = last ? out : acc;
      if (j == 0) {
        plan.emit(j == rank ? -1 : j, -1, j == rank ? own : Slice{}, dst, size, last);
      } else if (j != rank) {
        plan.emit(j, -1, acc, dst, size, last);
      } else {
        plan.emit(-1, -1, acc, dst, size, last).src2 = own;
      }
    }
  }

  // Sends `size` elements of `from` to every peer (peers r+1, r+2, .. in turn).
  void sendToAll(Slice from, uint64_t size) {
    for (int q = 1; q < n; ++q) plan.emit(-1, (rank + q) % n, from, {}, size, false);
  }

  void allReduce() {
    for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
      const Range c = chunkRange(args.count, chunk, k);
      sendToAll(Slice{BufKind::kSend, c.begin}, c.size);
      reduceInOrder(Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, c.begin}, c.size);
    }
  }

  void reduce() {
    for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
      const Range c = chunkRange(args.count, chunk, k);
      if (rank != args.root) {
        plan.emit(-1, args.root, Slice{BufKind::kSend, c.begin}, {}, c.size, false);
      } else {
        reduceInOrder(Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, c.begin}, c.size);
      }
    }
  }

  void reduceScatter() {
    const uint64_t count = args.count;
    for (uint64_t k = 0, K = ceilDiv(count, chunk); k < K; ++k) {
      const Range c = chunkRange(count, chunk, k);
      for (int q = 1; q < n; ++q) {
        const int peer = (rank + q) % n;
        plan.emit(-1, peer, Slice{BufKind::kSend, peer * count + c.begin}, {}, c.size, false);
      }
      reduceInOrder(Slice{BufKind::kSend, rank * count + c.begin}, Slice{BufKind::kRecv, c.begin}, c.size);
    }
  }

  void allGather() {
    const uint64_t count = args.count;
    for (uint64_t k = 0, K = ceilDiv(count, chunk); k < K; ++k) {
      const Range c = chunkRange(count, chunk, k);
      plan.emit(-1, -1, Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, rank * count + c.begin}, c.size, false);
      sendToAll(Slice{BufKind::kSend, c.begin}, c.size);
      for (int q = 1; q < n; ++q) {
        const int peer = (rank + q) % n;
        plan.emit(peer, -1, {}, Slice{BufKind::kRecv, peer * count + c.begin}, c.size, false);
      }
    }
  }

  void twoShotAllReduce() {
    for (uint64_t k = 0, K = ceilDiv(ceilDiv(args.count, n), chunk); k < K; ++k) {
      auto piece = [&](int q) {  // chunk k of block q (size 0 when the block has no chunk k)
        const Range b = blockRange(args.count, n, q);
        Range c = chunkRange(b.size, chunk, k);
        c.begin += b.begin;
        return c;
      };
      for (int d = 1; d < n; ++d) {
        const int peer = (rank + d) % n;
        const Range c = piece(peer);
        if (c.size > 0) plan.emit(-1, peer, Slice{BufKind::kSend, c.begin}, {}, c.size, false);
      }
      const Range mine = piece(rank);
      if (mine.size > 0) {
        reduceInOrder(Slice{BufKind::kSend, mine.begin}, Slice{BufKind::kRecv, mine.begin}, mine.size);
        sendToAll(Slice{BufKind::kRecv, mine.begin}, mine.size);
      }
      for (int d = 1; d < n; ++d) {
        const int peer = (rank + d) % n;
        const Range c = piece(peer);
        if (c.size > 0) plan.emit(peer, -1, {}, Slice{BufKind::kRecv, c.begin}, c.size, false);
      }
    }
  }

  void broadcast() {
    for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
      const Range c = chunkRange(args.count, chunk, k);
      const Slice mine{BufKind::kRecv, c.begin};
      if (rank == args.root) {
        plan.emit(-1, -1, Slice{BufKind::kSend, c.begin}, mine, c.size, false);
        sendToAll(mine, c.size);
      } else {
        plan.emit(args.root, -1, {}, mine, c.size, false);
      }
    }
  }
};

}  // namespace

bool DirectAlgorithm::supports(const CollArgs& args, const PlanContext& ctx) const {
  const bool oneHost = ctx.cluster == nullptr || ctx.cluster->numHosts() == 1;
  return oneHost && ctx.nranks >= 1 && ctx.nranks <= kMaxRanks && static_cast<int>(args.type) < kNumCollTypes;
}

Plan DirectAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const uint64_t chunk = chunkElements(args, ctx);
  DirectBuilder b{args, ctx.rank, ctx.nranks, chunk, {}};
  const bool reduces = args.type == CollType::kAllReduce || args.type == CollType::kReduceScatter ||
                       args.type == CollType::kReduce;
  if (reduces && ctx.nranks > 1) b.plan.scratchElements = std::min(chunk, args.count);
  switch (args.type) {
    case CollType::kAllReduce: b.allReduce(); break;
    case CollType::kAllGather: b.allGather(); break;
    case CollType::kReduceScatter: b.reduceScatter(); break;
    case CollType::kBroadcast: b.broadcast(); break;
    case CollType::kReduce: b.reduce(); break;
    default: break;  // point-to-point is planned by algorithms/p2p.h
  }
  b.plan.endLane();
  return std::move(b.plan);
}

double DirectAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  if (n < 2) return 0;
  const LinkCost link = widestCost(ctx);  // every pair talks
  const double bytes = fullBytes(args, n);
  const double chunks = std::max(1.0, std::ceil(bytes / std::max(1.0, static_cast<double>(ctx.chunkBytes))));
  // The n-1 messages of a chunk are in flight together: the latency is paid once per chunk, while a rank pays the
  // overhead of its n-1 sends and n-1 receives, and their bytes all pass through it.
  const double perChunk = link.alphaSec + 2.0 * (n - 1) * link.overheadSec;
  switch (args.type) {
    case CollType::kAllGather:
    case CollType::kReduceScatter: return chunks * perChunk + (n - 1.0) * (bytes / n) / link.bytesPerSec;
    default: return chunks * perChunk + (n - 1.0) * bytes / link.bytesPerSec;
  }
}

bool TwoShotAlgorithm::supports(const CollArgs& args, const PlanContext& ctx) const {
  return args.type == CollType::kAllReduce && DirectAlgorithm().supports(args, ctx);
}

Plan TwoShotAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const uint64_t chunk = chunkElements(args, ctx);
  if (ctx.nranks == 1) return singleRankPlan(args, chunk);
  DirectBuilder b{args, ctx.rank, ctx.nranks, chunk, {}};
  b.plan.scratchElements = std::min(chunk, ceilDiv(args.count, ctx.nranks));
  b.twoShotAllReduce();
  b.plan.endLane();
  return std::move(b.plan);
}

double TwoShotAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  if (n < 2) return 0;
  const LinkCost link = widestCost(ctx);
  const double block = fullBytes(args, n) / n;
  const double chunks = std::max(1.0, std::ceil(block / std::max(1.0, static_cast<double>(ctx.chunkBytes))));
  // Two rounds per chunk of a block; each rank sends and receives (n-1) blocks in each round.
  return 2 * chunks * (link.alphaSec + 2.0 * (n - 1) * link.overheadSec) + 2.0 * (n - 1) * block / link.bytesPerSec;
}

}  // namespace mixccl

// The recursive halving / doubling schedule.
//
// Glossary. p is the largest power of two <= n and rem = n - p. The FOLD pairs real ranks 2i and 2i+1 for i < rem:
// the even one hands all its data to the odd one and then only waits for its result; the odd one stands for both.
// The p ranks left get VIRTUAL ranks v (v < rem: real rank 2v+1; otherwise real rank v + rem) and run the
// power-of-two schedule. At the end the UNFOLD gives each waiting even rank its result.
// The data is cut into p VBLOCKS, one per virtual rank, contiguous and in order: all-reduce splits count into p
// nearly equal blocks; reduce-scatter and all-gather use the real per-rank blocks of count elements, vblock v being
// the blocks of the real ranks v stands for (2v and 2v+1 when v < rem, else v + rem).
//
// Recursive halving (reduce-scatter, and the first half of all-reduce). Before the round of distance d (d = p/2,
// p/4, .., 1) virtual rank v holds partial results of the 2d vblocks [base, base + 2d), base = v rounded down to a
// multiple of 2d. It pairs with v ^ d: the one with bit d clear keeps the lower d vblocks, the other the upper d;
// each sends the half it gives away and reduces what arrives into the half it keeps. After log2(p) rounds v holds
// vblock v fully reduced, each element computed once, on one rank: the last round writes it to its final place
// (all-reduce: the receive buffer; reduce-scatter: the receive buffer of the block's owner, which is v's real rank
// or, for the other block of a folded pair, the even rank it is sent on to).
// The partial results live in ACC: the receive buffer for all-reduce, scratch laid out like the send buffer for
// reduce-scatter. The first round reads the send buffer instead, unless the fold already filled ACC.
//
// Recursive doubling (all-gather, and the second half of all-reduce): rounds d = 1, 2, .., p/2. Before the round v
// holds the d vblocks [base, base + d) (base = v rounded down to a multiple of d) in the receive buffer; it sends
// them to v ^ d and receives the partner's d vblocks, so every value is copied, never recomputed.
//
// Chunking and deadlock freedom. Every message is cut into CHUNKS of at most chunkBytes; in the last halving round
// of reduce-scatter they also never straddle a real block (so each block can be routed to its owner). In a round
// both partners send chunk j, then receive chunk j, for j = 0, 1, ..: neither runs more than one chunk ahead of
// the other, so two FIFO slots suffice for any message length. Each round is a perfect matching of the virtual ranks, taken in the same order everywhere,
// so a rank never waits on a partner that is itself waiting on a third rank. All steps sit in one lane, channel 0.
#include "algorithms/rhd.h"

#include <algorithm>
#include <vector>

#include "algorithms/cost.h"
#include "algorithms/partition.h"
#include "core/datatype.h"

namespace mixccl {
namespace {

// A piece of one message: `size` elements at `offset` (of the buffer the round reads or writes), inside real block
// `block` (-1: chunks may span blocks).
struct Chunk {
  uint64_t offset;
  uint64_t size;
  int block;
};

int largestPowerOfTwo(int n) {
  int p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

struct RhdBuilder {
  const CollArgs& args;
  int rank;
  int n;
  int p;
  int rem;
  uint64_t chunk;  // elements per chunk
  Plan plan;
  std::vector<Chunk> sendList;  // reused by every round
  std::vector<Chunk> recvList;

  bool perRankBlocks() const { return args.type != CollType::kAllReduce; }
  int vrank() const { return rank < 2 * rem ? (rank % 2 == 1 ? rank / 2 : -1) : rank - rem; }
  int realOf(int v) const { return v < rem ? 2 * v + 1 : v + rem; }
  // The first real block of vblock v (v == p gives n).
  int firstBlock(int v) const { return v < rem ? 2 * v : v + rem; }

  void appendChunks(uint64_t begin, uint64_t size, int block, std::vector<Chunk>* out) const {
    for (uint64_t k = 0, K = ceilDiv(size, chunk); k < K; ++k) {
      Range c = chunkRange(size, chunk, k);
      out->push_back({begin + c.begin, c.size, block});
    }
  }

  // The chunks of vblocks [v0, v1), in order, into *out. `byBlock`: cut at every real block too (and name it).
  void chunksOf(int v0, int v1, bool byBlock, std::vector<Chunk>* out) const {
    out->clear();
    if (!perRankBlocks()) {
      const uint64_t begin = blockRange(args.count, p, v0).begin;
      appendChunks(begin, blockRange(args.count, p, v1).begin - begin, -1, out);
    } else if (!byBlock) {
      appendChunks(firstBlock(v0) * args.count, (firstBlock(v1) - firstBlock(v0)) * args.count, -1, out);
    } else {
      for (int b = firstBlock(v0), e = firstBlock(v1); b < e; ++b) appendChunks(b * args.count, args.count, b, out);
    }
  }

  // Sends [begin, begin + size) of `from` to `peer`, chunked (the fold and unfold: one direction only).
  void sendRange(int peer, BufKind from, uint64_t begin, uint64_t size) {
    for (uint64_t k = 0, K = ceilDiv(size, chunk); k < K; ++k) {
      Range c = chunkRange(size, chunk, k);
      plan.emit(-1, peer, Slice{from, begin + c.begin}, {}, c.size, false);
    }
  }
  // Receives what sendRange sends: copied to `into` at `intoBegin`, or reduced with `with` at the same offsets.
  void recvRange(int peer, Slice with, BufKind into, uint64_t intoBegin, uint64_t size) {
    for (uint64_t k = 0, K = ceilDiv(size, chunk); k < K; ++k) {
      Range c = chunkRange(size, chunk, k);
      Slice src = with.valid() ? Slice{with.buf, with.offset + c.begin} : Slice{};
      plan.emit(peer, -1, src, Slice{into, intoBegin + c.begin}, c.size, false);
    }
  }

  // The last halving round's reduced chunk goes to its final place.
  void finalChunk(int peer, Slice src, const Chunk& c) {
    if (!perRankBlocks()) {
      plan.emit(peer, -1, src, Slice{BufKind::kRecv, c.offset}, c.size, true);
    } else if (c.block == rank) {
      plan.emit(peer, -1, src, Slice{BufKind::kRecv, c.offset - c.block * args.count}, c.size, true);
    } else {
      plan.emit(peer, c.block, src, {}, c.size, true);  // the folded even rank's block
    }
  }

  // Recursive halving with partial results in `acc`; `accReady`: the fold already put them there.
  void halving(BufKind acc, bool accReady) {
    const int v = vrank();
    for (int d = p / 2; d >= 1; d /= 2) {
      const int peer = realOf(v ^ d);
      const int base = v & ~(2 * d - 1);
      const bool upper = (v & d) != 0;
      const int keep = upper ? base + d : base, give = upper ? base : base + d;
      const BufKind from = accReady ? acc : BufKind::kSend;
      chunksOf(give, give + d, d == 1, &sendList);
      chunksOf(keep, keep + d, d == 1, &recvList);
      for (size_t j = 0; j < std::max(sendList.size(), recvList.size()); ++j) {
        if (j < sendList.size()) plan.emit(-1, peer, Slice{from, sendList[j].offset}, {}, sendList[j].size, false);
        if (j >= recvList.size()) continue;
        const Chunk& c = recvList[j];
        if (d > 1) {
          plan.emit(peer, -1, Slice{from, c.offset}, Slice{acc, c.offset}, c.size, false);
        } else {
          finalChunk(peer, Slice{from, c.offset}, c);
        }
      }
      accReady = true;
    }
  }

  // Recursive doubling in the receive buffer.
  void doubling() {
    const int v = vrank();
    for (int d = 1; d < p; d *= 2) {
      const int partner = v ^ d;
      const int peer = realOf(partner);
      const int mine = v & ~(d - 1), theirs = partner & ~(d - 1);
      chunksOf(mine, mine + d, false, &sendList);
      chunksOf(theirs, theirs + d, false, &recvList);
      for (size_t j = 0; j < std::max(sendList.size(), recvList.size()); ++j) {
        if (j < sendList.size()) plan.emit(-1, peer, Slice{BufKind::kRecv, sendList[j].offset}, {}, sendList[j].size, false);
        if (j < recvList.size()) plan.emit(peer, -1, {}, Slice{BufKind::kRecv, recvList[j].offset}, recvList[j].size, false);
      }
    }
  }

  void allReduce() {
    const uint64_t count = args.count;
    if (vrank() < 0) {  // folded even rank: hand over the data, wait for the result
      sendRange(rank + 1, BufKind::kSend, 0, count);
      recvRange(rank + 1, {}, BufKind::kRecv, 0, count);
      return;
    }
    const bool folded = vrank() < rem;
    if (folded) recvRange(rank - 1, Slice{BufKind::kSend, 0}, BufKind::kRecv, 0, count);
    halving(BufKind::kRecv, folded);
    doubling();
    if (folded) sendRange(rank - 1, BufKind::kRecv, 0, count);
  }

  void reduceScatter() {
    const uint64_t total = args.count * n;
    plan.scratchElements = total;
    if (vrank() < 0) {
      sendRange(rank + 1, BufKind::kSend, 0, total);
      recvRange(rank + 1, {}, BufKind::kRecv, 0, args.count);
      return;
    }
    const bool folded = vrank() < rem;
    if (folded) recvRange(rank - 1, Slice{BufKind::kSend, 0}, BufKind::kScratch, 0, total);
    halving(BufKind::kScratch, folded);
  }

  void allGather() {
    const uint64_t count = args.count;
    const uint64_t own = rank * count;
    for (uint64_t k = 0, K = ceilDiv(count, chunk); k < K; ++k) {
      Range c = chunkRange(count, chunk, k);
      plan.emit(-1, -1, Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, own + c.begin}, c.size, false);
    }
    if (vrank() < 0) {
      sendRange(rank + 1, BufKind::kSend, 0, count);
      recvRange(rank + 1, {}, BufKind::kRecv, 0, own);
      recvRange(rank + 1, {}, BufKind::kRecv, own + count, (n - rank - 1) * count);
      return;
    }
    const bool folded = vrank() < rem;
    const uint64_t evenBlock = (rank - 1) * count;
    if (folded) recvRange(rank - 1, {}, BufKind::kRecv, evenBlock, count);
    doubling();
    if (folded) {
      sendRange(rank - 1, BufKind::kRecv, 0, evenBlock);
      sendRange(rank - 1, BufKind::kRecv, evenBlock + count, (n - rank) * count);
    }
  }
};

}  // namespace

bool RhdAlgorithm::supports(const CollArgs& args, const PlanContext& ctx) const {
  const bool coll = args.type == CollType::kAllReduce || args.type == CollType::kReduceScatter ||
                    args.type == CollType::kAllGather;
  return coll && ctx.nranks >= 1;
}

Plan RhdAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  const uint64_t chunk = chunkElements(args, ctx);
  if (n == 1) return singleRankPlan(args, chunk);
  const int p = largestPowerOfTwo(n);
  RhdBuilder b{args, ctx.rank, n, p, n - p, chunk, {}, {}, {}};
  switch (args.type) {
    case CollType::kAllReduce: b.allReduce(); break;
    case CollType::kReduceScatter: b.reduceScatter(); break;
    case CollType::kAllGather: b.allGather(); break;
    default: break;  // not supported
  }
  b.plan.endLane();
  return std::move(b.plan);
}

double RhdAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  if (n < 2) return 0;
  const LinkCost link = widestCost(ctx);  // partners are far apart in rank order
  const double bytes = fullBytes(args, n);
  const double chunk = static_cast<double>(ctx.chunkBytes);
  const int p = largestPowerOfTwo(n);
  // One pass of halving (or doubling): rounds of bytes/2, bytes/4, .., bytes/p.
  double pass = 0;
  for (int d = p / 2; d >= 1; d /= 2) pass += pipelinedSeconds(link, bytes * d / p, 1, chunk);
  const bool folds = n > p;
  switch (args.type) {
    case CollType::kAllReduce:
      return 2 * pass + (folds ? 2 * pipelinedSeconds(link, bytes, 1, chunk) : 0);
    case CollType::kReduceScatter:
      return pass + (folds ? pipelinedSeconds(link, bytes, 1, chunk) + pipelinedSeconds(link, bytes / n, 1, chunk) : 0);
    case CollType::kAllGather:
      return pass + (folds ? pipelinedSeconds(link, bytes / n, 1, chunk) + pipelinedSeconds(link, bytes, 1, chunk) : 0);
    default: return 0;
  }
}

}  // namespace mixccl

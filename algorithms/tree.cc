// The binary tree schedules.
//
// Glossary. A TREE is the heap-shaped binary tree over POSITIONS 0..n-1: position i has the parent (i-1)/2 and the
// children 2i+1 and 2i+2 (those below n), so its depth is floor(log2 n) and the positions i with 2i+1 < n are its
// INTERIOR nodes, about half of them. A PLACEMENT puts ranks on positions:
//   tree 0 of all-reduce: position = rank;   tree 1 of all-reduce: position = n-1-rank (the mirror image);
//   broadcast and reduce: position = rank - root (mod n), so the root sits at position 0.
// The interior positions are 0..(n-2)/2, so the interior ranks of tree 0 are the low ranks and those of tree 1
// the high ranks: no rank is interior in both trees, and each rank's links carry one tree's combining traffic.
//
// All-reduce. The count is split into two HALVES; tree t carries half t, cut into CHUNKS of at most chunkBytes, on
// channel 0 (tree 0) or kSecondTreeChannel (tree 1). For chunk k of a half:
//   UP (reduce): a leaf sends its own chunk to its parent; an interior rank reduces its first child's chunk with
//     its own into its accumulator (scratch: one chunk per tree), then its second child's chunk with that, and
//     sends the result to its parent. The root does the same and its last reduction is the FINAL value (avg
//     divides there), written to its receive buffer.
//   DOWN (broadcast): the root sends the final chunk to its children; a rank receives it from its parent into its
//     receive buffer and forwards it to its children.
// Every element is reduced exactly once, at its tree's root, and only copied after that: every rank ends with the
// same bits. (In place, a rank reads its own chunk going UP before the final chunk can come back DOWN, since the
// root needs that rank's contribution first.)
//
// Lanes and deadlock freedom. A rank other than the root runs UP and DOWN as two lanes, so it pushes chunk k+1 up
// while chunk k comes down; its UP lane sends to the parent and receives from the children, its DOWN lane the
// other way round, so each direction of each pair on a channel belongs to one lane (engine/plan.h). The root runs
// one lane (it must reduce chunk k before it sends it down). An UP lane waits only for its children's UP lanes and
// for slots its parent's UP (or root) lane frees; a DOWN lane waits only for its parent and for slots its
// children's DOWN lanes free; the root's lane waits for its children's UP lanes, then their DOWN lanes. None of
// these waits on the waiter, so two FIFO slots suffice. The two trees use separate channels because a pair of
// ranks may be linked in both trees in opposite directions (n = 2: 1 -> 0 up tree 0 and 1 -> 0 down tree 1),
// which would put one direction of the pair in two lanes of one channel.
//
// Broadcast is the DOWN half on one tree (the root copies its send buffer to its receive buffer and sends it),
// reduce the UP half (only the root writes its receive buffer); both on channel 0.
#include "algorithms/tree.h"

#include <algorithm>
#include <cmath>

#include "algorithms/cost.h"
#include "algorithms/partition.h"
#include "core/datatype.h"

namespace mixccl {
namespace {

// Where ranks sit in one tree: position = n-1-rank when mirrored, else rank - root (mod n).
struct Placement {
  bool mirrored = false;
  int root = 0;
};

struct TreeNode {
  int parent = -1;  // rank; -1 at the root
  int children[2] = {-1, -1};
  int numChildren = 0;
};

TreeNode nodeOf(const Placement& pl, int rank, int n) {
  auto rankAt = [&](int pos) { return pl.mirrored ? n - 1 - pos : (pos + pl.root) % n; };
  const int pos = pl.mirrored ? n - 1 - rank : wrap(static_cast<int64_t>(rank) - pl.root, n);
  TreeNode t;
  if (pos > 0) t.parent = rankAt((pos - 1) / 2);
  for (int c = 2 * pos + 1; c <= 2 * pos + 2 && c < n; ++c) t.children[t.numChildren++] = rankAt(c);
  return t;
}

struct TreeBuilder {
  const CollArgs& args;
  uint64_t chunk;  // elements per chunk
  Plan plan;

  void emit(uint8_t channel, int recvPeer, int sendPeer, Slice src, Slice dst, uint64_t count, bool final) {
    plan.emit(recvPeer, sendPeer, src, dst, count, final, channel);
  }

  // UP steps of a rank other than the root, for `size` elements at `off`.
  void upChunk(const TreeNode& t, uint8_t ch, Slice acc, uint64_t off, uint64_t size) {
    const Slice own{BufKind::kSend, off};
    if (t.numChildren == 0) {
      emit(ch, -1, t.parent, own, {}, size, false);
    } else if (t.numChildren == 1) {
      emit(ch, t.children[0], t.parent, own, {}, size, false);
    } else {
      emit(ch, t.children[0], -1, own, acc, size, false);
      emit(ch, t.children[1], t.parent, acc, {}, size, false);
    }
  }

  // DOWN steps of a rank other than the root.
  void downChunk(const TreeNode& t, uint8_t ch, uint64_t off, uint64_t size) {
    const Slice mine{BufKind::kRecv, off};
    emit(ch, t.parent, t.numChildren > 0 ? t.children[0] : -1, {}, mine, size, false);
    if (t.numChildren == 2) emit(ch, -1, t.children[1], mine, {}, size, false);
  }

  // The root's steps: reduce its children's chunks with its own (`reduce`), send the result down (`down`).
  void rootChunk(const TreeNode& t, uint8_t ch, Slice acc, uint64_t off, uint64_t size, bool reduce, bool down) {
    const Slice own{BufKind::kSend, off}, mine{BufKind::kRecv, off};
    const int first = down ? t.children[0] : -1;
    if (!reduce) {
      emit(ch, -1, first, own, mine, size, false);
    } else if (t.numChildren == 1) {
      emit(ch, t.children[0], first, own, mine, size, true);
    } else {
      emit(ch, t.children[0], -1, own, acc, size, false);
      emit(ch, t.children[1], first, acc, mine, size, true);
    }
    if (down && t.numChildren == 2) emit(ch, -1, t.children[1], mine, {}, size, false);
  }

  // One tree over `size` elements from `begin`: UP (`reduce`) and/or DOWN (`down`), in the lanes described above.
  void tree(const TreeNode& t, uint8_t ch, Slice acc, uint64_t begin, uint64_t size, bool reduce, bool down) {
    const uint64_t K = ceilDiv(size, chunk);
    if (t.parent < 0) {
      for (uint64_t k = 0; k < K; ++k) {
        Range c = chunkRange(size, chunk, k);
        rootChunk(t, ch, acc, begin + c.begin, c.size, reduce, down);
      }
      plan.endLane();
      return;
    }
    if (reduce) {
      for (uint64_t k = 0; k < K; ++k) {
        Range c = chunkRange(size, chunk, k);
        upChunk(t, ch, acc, begin + c.begin, c.size);
      }
      plan.endLane();
    }
    if (down) {
      for (uint64_t k = 0; k < K; ++k) {
        Range c = chunkRange(size, chunk, k);
        downChunk(t, ch, begin + c.begin, c.size);
      }
      plan.endLane();
    }
  }
};

}  // namespace

bool TreeAlgorithm::supports(const CollArgs& args, const PlanContext& ctx) const {
  const bool coll = args.type == CollType::kAllReduce || args.type == CollType::kBroadcast ||
                    args.type == CollType::kReduce;
  return coll && ctx.nranks >= 1;
}

Plan TreeAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  const uint64_t chunk = chunkElements(args, ctx);
  if (n == 1) return singleRankPlan(args, chunk, args.type != CollType::kBroadcast);
  TreeBuilder b{args, chunk, {}};
  const uint64_t accElems = std::min(chunk, args.count);  // one tree's accumulator
  switch (args.type) {
    case CollType::kAllReduce:
      b.plan.scratchElements = 2 * accElems;
      for (int t = 0; t < 2; ++t) {
        const Range half = blockRange(args.count, 2, t);
        const TreeNode node = nodeOf(Placement{t == 1, 0}, ctx.rank, n);
        b.tree(node, t == 0 ? 0 : kSecondTreeChannel, Slice{BufKind::kScratch, t * accElems}, half.begin, half.size,
               true, true);
      }
      break;
    case CollType::kReduce:
      b.plan.scratchElements = accElems;
      b.tree(nodeOf(Placement{false, args.root}, ctx.rank, n), 0, Slice{BufKind::kScratch, 0}, 0, args.count, true,
             false);
      break;
    case CollType::kBroadcast:
      b.tree(nodeOf(Placement{false, args.root}, ctx.rank, n), 0, {}, 0, args.count, false, true);
      break;
    default: break;  // not supported
  }
  return std::move(b.plan);
}

double TreeAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const int n = ctx.nranks;
  if (n < 2) return 0;
  const LinkCost link = widestCost(ctx);  // heap trees link ranks far apart
  const bool allReduce = args.type == CollType::kAllReduce;
  const double bytes = fullBytes(args, n) / (allReduce ? 2 : 1);  // per tree
  const double chunk = static_cast<double>(ctx.chunkBytes);
  const double chunks = std::max(1.0, std::ceil(bytes / chunk));
  const double depth = std::floor(std::log2(static_cast<double>(n)));
  const double hops = allReduce ? 2 * depth : depth;
  // The first chunk crosses every hop, the others follow one pipeline step apart. A step is what the busiest rank
  // receives per chunk: from its two children (broadcast: from its parent, then sends to two children; count
  // two), and for all-reduce also the chunk coming down and the other tree's chunk coming down (four).
  const double perStep = allReduce ? 4 : 2;
  return (hops + chunks - 1) * perStep * link.seconds(std::min(bytes, chunk));
}

}  // namespace mixccl

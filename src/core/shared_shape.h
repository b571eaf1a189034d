#pragma once
// How one collective is cut into the pieces of the shared segment (core/shared_reduce.h), and what each rank copies
// and computes for each piece. A slot holds an input region per rank and one output region, of slotBytes each.
//
// Piece i covers `length(i)` elements of every block the collective has (the whole buffer is one block for an
// all-reduce, a broadcast or a reduce; an all-gather's receive buffer and a reduce-scatter's send buffer have a block
// per rank, `args.count` elements each), starting at element `offset(i)` of each:
//   all-reduce, reduce  in: the piece               work: this rank's shard (whole cache lines), folded over every
//                                                   rank's input in rank order   out: the piece (a reduce: root only)
//   broadcast           in: the piece (root only)   work: this rank's shard, copied from the root's input
//                                                   out: the piece
//   reduce-scatter      in: the piece of each block, block b at b * stride()
//                       work: block `rank`, folded over every rank's input in rank order   out: block `rank`
//   all-gather          in: the piece               work: this rank's input, copied to rank * stride() in the output
//                       out: block b of the output to block b of the receive buffer
// So every element of an output is computed once, by one rank, the same way on every rank.
#include <cstddef>
#include <cstdint>

#include "engine/coll_args.h"

namespace mixccl {

// One copy between a user's buffer and a region of the segment: byte offsets into each, and the bytes.
struct SharedCopy {
  size_t user = 0;
  size_t region = 0;
  size_t bytes = 0;
};

class SharedShape {
 public:
  // Whether `args` can go through slots of `slotBytes` for `nranks` ranks: a collective of those above with a
  // built-in operator and elements, whose per-block piece is at least one element.
  static bool fits(const CollArgs& args, int nranks, uint64_t slotBytes);
  // Precondition: fits(args, nranks, slotBytes).
  SharedShape(const CollArgs& args, int nranks, int rank, uint64_t slotBytes);

  const CollArgs& args() const { return args_; }
  uint64_t pieces() const { return (args_.count + per_ - 1) / per_; }
  uint64_t offset(uint64_t i) const { return i * per_; }
  uint64_t length(uint64_t i) const { return args_.count - offset(i) < per_ ? args_.count - offset(i) : per_; }
  // Bytes from one block of a region to the next (a reduce-scatter's input, an all-gather's output): a whole number of
  // cache lines.
  size_t stride() const { return size_t(per_) * esz_; }

  // Piece i's copies from this rank's send buffer into its input region, and from the output region into its
  // receive buffer: f(const SharedCopy&) for each (none where the rank has no such side in the collective).
  template <typename F>
  void forEachIn(uint64_t i, F&& f) const;
  template <typename F>
  void forEachOut(uint64_t i, F&& f) const;
  // Whether this rank copies anything out (a reduce's other ranks do not; they still mark the slot copied out).
  bool copiesOut() const { return args_.type != CollType::kReduce || rank_ == args_.root; }

 private:
  // Elements per block per piece.
  static uint64_t perBlock(const CollArgs& args, int nranks, uint64_t slotBytes);

  CollArgs args_;
  int nranks_;
  int rank_;
  uint64_t per_;
  size_t esz_;
};

template <typename F>
void SharedShape::forEachIn(uint64_t i, F&& f) const {
  const size_t at = size_t(offset(i)) * esz_, bytes = size_t(length(i)) * esz_;
  switch (args_.type) {
    case CollType::kBroadcast:
      if (rank_ == args_.root) f(SharedCopy{at, 0, bytes});
      return;
    case CollType::kReduceScatter:
      for (int b = 0; b < nranks_; ++b)
        f(SharedCopy{size_t(b) * size_t(args_.count) * esz_ + at, size_t(b) * stride(), bytes});
      return;
    default:
      f(SharedCopy{at, 0, bytes});
      return;
  }
}

template <typename F>
void SharedShape::forEachOut(uint64_t i, F&& f) const {
  const size_t at = size_t(offset(i)) * esz_, bytes = size_t(length(i)) * esz_;
  switch (args_.type) {
    case CollType::kReduceScatter:
      f(SharedCopy{at, size_t(rank_) * stride(), bytes});
      return;
    case CollType::kAllGather:
      for (int b = 0; b < nranks_; ++b)
        f(SharedCopy{size_t(b) * size_t(args_.count) * esz_ + at, size_t(b) * stride(), bytes});
      return;
    default:
      if (copiesOut()) f(SharedCopy{at, 0, bytes});
      return;
  }
}

}  // namespace mixccl

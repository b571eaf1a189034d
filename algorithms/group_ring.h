#pragma once
// Ring phases over a SUBSET of the ranks and a REGION of the buffers: the building block of composed algorithms
// (hierarchical.cc). Pure arithmetic that appends steps to a plan.
//
// A GroupRing is an ordered list of ranks (the ring runs group[0] -> group[1] -> ... -> group[0]) and a region
// [begin, begin + length) of elements, cut into g = group.size() blocks by blockRange(): block j belongs to
// group[j]. Every member of the group must call the same phase with the same group and region, in the same order
// relative to its other phases, so their steps match message by message. Reduce-scatter messages use channel 0,
// all-gather messages `agChannel`.
//
// Overlap (hierarchical.cc): with `tags` set, every emitted step's lane tag is appended to *tags, for
// engine/lane_split.h. In a ring of 2 (one peer, both prev and next) the steps that receive nothing get laneTag
// and the others laneTag + 1, so that sends never wait behind a receive; in other rings every step gets
// laneTag + 1 (forwarding steps receive and send, so the sends to next cannot have a lane of their own).
// That needs agChannel != 0 (a final reduce-scatter value is then sent on by a step of its own). `order`, when set, is the order in which chunk indices are visited
// (a permutation of 0..maxChunks()-1, the same on every member).
#include <cstdint>
#include <vector>

#include "algorithms/partition.h"
#include "engine/plan.h"

namespace mixccl {

struct GroupRing {
  std::vector<int> group;  // ranks in ring order; this rank is group[pos]
  int pos = 0;
  uint64_t begin = 0;   // the region, in elements of the working buffer (and of the input buffer)
  uint64_t length = 0;
  uint64_t chunk = 1;   // elements per step at most
  uint8_t agChannel = 0;
  std::vector<uint8_t>* tags = nullptr;
  uint8_t laneTag = 0;
  const std::vector<uint64_t>* order = nullptr;

  int size() const { return static_cast<int>(group.size()); }
  // Block j of the region (absolute element offsets).
  Range block(int j) const {
    Range r = blockRange(length, size(), j);
    r.begin += begin;
    return r;
  }

  // Reduce-scatter: afterwards this rank's block of the region, in the receive buffer, holds the reduction over
  // the group of every member's `input` data for that block. `input` is kSend (the rank's own contribution) or
  // kRecv (a partial result of an earlier phase, at the same offsets). `final`: the value is fully reduced
  // (avg's division applies). With `thenAllGather`, the blocks are also passed around so that every member ends
  // with the whole region (an all-reduce of the region), each final value computed once.
  void reduceScatter(BufKind input, bool final, bool thenAllGather, Plan* plan) const;
  // All-gather: every member holds its own block of the region in the receive buffer; afterwards every member
  // holds all of them.
  void allGather(Plan* plan) const;
  // Chunk indices per block: ceil(ceil(length / size) / chunk).
  uint64_t maxChunks() const;

 private:
  // Appends a step (and its lane tag when tags are kept).
  Step& put(Plan* plan, int recvPeer, int sendPeer, Slice src, Slice dst, uint64_t count, bool final,
            uint8_t channel) const;
  uint64_t chunkAt(uint64_t i) const { return order != nullptr ? (*order)[i] : i; }
  void forwardChunk(uint64_t k, Plan* plan) const;
  int prev() const { return group[wrap(pos - 1, size())]; }
  int next() const { return group[wrap(pos + 1, size())]; }
};

}  // namespace mixccl

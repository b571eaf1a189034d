#pragma once
#include <cstdint>

#include "algorithms/algorithm.h"

namespace mixccl {

// The channel of the tree all-reduce's second tree (the first uses 0, point-to-point 1): a pair of ranks may be
// linked in both trees, in opposite directions, and each tree's lanes must own their FIFOs (engine/plan.h).
constexpr uint8_t kSecondTreeChannel = 2;

// Binary trees: all-reduce on a double binary tree (two mirrored trees, each reducing then broadcasting half of the
// data, so each rank is an interior node of at most one), broadcast and reduce on one binary tree; pipelined in
// chunks, latency logarithmic in the rank count. Any nranks >= 1, any count. See tree.cc for the schedule.
class TreeAlgorithm final : public Algorithm {
 public:
  const char* name() const override { return "tree"; }
  const char* description() const override {
    return "tree: double binary tree all-reduce, binary tree broadcast/reduce; pipelined, log2(n) hops";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override;
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

}  // namespace mixccl

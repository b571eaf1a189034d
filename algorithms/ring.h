#pragma once
#include "algorithms/algorithm.h"

namespace mixccl {

// The ring: bandwidth-optimal on a uniform ring of links, latency linear in the number of ranks.
// All-reduce, all-gather, reduce-scatter, broadcast and reduce; any nranks >= 1, any count. See ring.cc for the schedule.
class RingAlgorithm final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "ring: pipelined chunks around the ranks; 2(n-1)/n of the data per link for all-reduce";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override { return ctx.nranks >= 1; }
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

}  // namespace mixccl

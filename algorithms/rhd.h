#pragma once
#include "algorithms/algorithm.h"

namespace mixccl {

// Recursive halving (reduce-scatter), recursive doubling (all-gather), and all-reduce as halving then doubling
// (Rabenseifner): log2(n) exchange rounds, each with one partner, so latency grows with log n while every rank
// still moves about 2 (n-1)/n of the data for all-reduce. Any nranks >= 1 (a rank count that is not a power of two
// folds its extra ranks into partners first), any count. See rhd.cc for the schedule.
class RhdAlgorithm final : public Algorithm {
 public:
  const char* name() const override { return "rhd"; }
  const char* description() const override {
    return "rhd: recursive halving/doubling; log2(n) partner exchanges, extra ranks of a non-power-of-two folded";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override;
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

}  // namespace mixccl

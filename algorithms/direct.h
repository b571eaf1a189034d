#pragma once
#include "algorithms/algorithm.h"

namespace mixccl {

// One-shot exchange for small messages inside one host: every rank sends its data straight to every rank that
// needs it and combines what arrives itself, in rank order 0, 1, .., n-1, so every rank computes the same bits.
// One round of latency, n-1 times the data on each rank's link. All-reduce, all-gather, reduce-scatter, broadcast,
// reduce. Offered only when all ranks share a host and nranks <= kMaxRanks; correct for any rank count and count.
// See direct.cc for the schedule.
class DirectAlgorithm final : public Algorithm {
 public:
  static constexpr int kMaxRanks = 64;  // beyond this the n^2 messages cost more than they save
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "direct: one-shot, every rank sends to every rank and reduces in rank order; one host, <= 64 ranks";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override;
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

// Two-shot all-reduce inside one host: a direct reduce-scatter (rank q receives block q from every rank and
// reduces it in rank order), then a direct all-gather of the reduced blocks. Two rounds of latency, the ring's
// 2(n-1)/n of the data per rank: for mid-size messages where direct moves too much and the ring waits too often.
// All-reduce only; same placement limits as direct. See direct.cc.
class TwoShotAlgorithm final : public Algorithm {
 public:
  const char* name() const override { return "twoshot"; }
  const char* description() const override {
    return "twoshot: direct reduce-scatter then direct all-gather; 2 rounds, 2(n-1)/n of the data; one host";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override;
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

}  // namespace mixccl

#pragma once
#include "algorithms/algorithm.h"

namespace mixccl {

// Hierarchical all-reduce: reduce-scatter inside each host, then inside each site across hosts, an all-reduce of
// each shard across sites, and all-gathers back down. Each level is a ring over the ranks that link class joins,
// so the slow links (between hosts, between sites) carry only the shard that must cross them. See
// hierarchical.cc for the schedule. Needs a cluster with several hosts of equal rank counts and sites of equal
// host counts; declines otherwise (the selector then picks a flat algorithm).
class HierarchicalAlgorithm final : public Algorithm {
 public:
  const char* name() const override { return "hierarchical"; }
  const char* description() const override {
    return "hierarchical: ring reduce-scatter per host, per site, all-reduce across sites, all-gather back; "
           "the WAN carries 1/(ranks per site) of the data per rank";
  }
  bool supports(const CollArgs& args, const PlanContext& ctx) const override;
  Plan plan(const CollArgs& args, const PlanContext& ctx) const override;
  double estimate(const CollArgs& args, const PlanContext& ctx) const override;
};

}  // namespace mixccl

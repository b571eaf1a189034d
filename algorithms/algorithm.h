#pragma once
// An algorithm: pure rank/chunk arithmetic that turns a collective into a plan (engine/plan.h).
//
// Contract: plan() is deterministic in its arguments (every rank computes its own plan from the same shared
// facts and the plans match up), touches no device, transport or socket, and is thread-safe (const).
// An algorithm that cannot serve a request (wrong collective, constraint unmet) returns false from
// supports() and the selector falls back to another one.
#include <cstddef>
#include <string>

#include "engine/coll_args.h"
#include "engine/plan.h"
#include "topology/cluster_view.h"

namespace mixccl {

// What an algorithm may know when it plans: shared facts only (identical on every rank but `rank`).
struct PlanContext {
  int rank = 0;
  int nranks = 1;
  uint64_t chunkBytes = 128 << 10;  // the largest piece one step may move (the transport's slot size)
  // Where every rank is and what links cost; shared by every rank. Never null when a communicator or the
  // simulator plans; an algorithm given null assumes all ranks on one host (ClusterView::singleHost).
  const ClusterView* cluster = nullptr;
};

// Elements one step may move: ctx.chunkBytes in the collective's type, at least 1.
uint64_t chunkElements(const CollArgs& args, const PlanContext& ctx);

// The plan of a single rank: the send buffer copied to the receive buffer in chunks, each step final (so avg's
// division, by 1, and the same code path apply). `final` false for collectives without a reduction.
Plan singleRankPlan(const CollArgs& args, uint64_t chunk, bool final = true);

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual const char* name() const = 0;         // "ring"
  virtual const char* description() const = 0;  // one line for mixccl-info
  virtual bool supports(const CollArgs& args, const PlanContext& ctx) const = 0;
  // Builds this rank's plan. Precondition: supports(args, ctx).
  virtual Plan plan(const CollArgs& args, const PlanContext& ctx) const = 0;
  // The modelled time of the whole collective in seconds, from ctx.cluster's link costs (alpha-beta model; see
  // algorithms/cost.h). The same on every rank (it must not depend on ctx.rank). Precondition: supports().
  virtual double estimate(const CollArgs& args, const PlanContext& ctx) const = 0;
};

}  // namespace mixccl

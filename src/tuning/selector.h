#pragma once
// Chooses the algorithm for a collective. Deterministic from shared facts only (the same answer on every rank).
//
// The choice: MIXCCL_ALGO if it names an algorithm that supports the request (globally, "ring", or per
// collective, "allreduce=tree,allgather=ring"); otherwise the supporting algorithm whose cost model
// (Algorithm::estimate over the cluster view) is lowest, the earlier one in the registry on a tie. An algorithm
// that declines is skipped, so there is always a fallback (ring supports everything).
#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "core/status.h"

namespace mixccl {

// One candidate's modelled time for a request.
struct Candidate {
  const Algorithm* algo = nullptr;
  bool supported = false;
  double seconds = 0;  // valid when supported
};

class Selector {
 public:
  // Parses `override` (MIXCCL_ALGO syntax). An unknown algorithm or collective name is mixcclInvalidUsage.
  static Result create(const std::string& override, Selector* out);
  // The algorithm for this request, never nullptr when some algorithm supports it (else mixcclInternalError).
  // Repeated requests of the same shape are answered from a one-entry memo (not thread-safe: one driving thread).
  Result select(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const;
  // Every registered algorithm's verdict on the request, in registry order (for tables and tests).
  static std::vector<Candidate> candidates(const CollArgs& args, const PlanContext& ctx);
  // The algorithm MIXCCL_ALGO forces for `type`, or nullptr.
  const Algorithm* forced(CollType type) const { return forced_[static_cast<int>(type)]; }

 private:
  Result choose(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const;

  const Algorithm* forced_[kNumCollTypes] = {};
  // The memo: the last request's shape and answer.
  mutable CollArgs lastArgs_{};
  mutable const Algorithm* lastAlgo_ = nullptr;
};

}  // namespace mixccl

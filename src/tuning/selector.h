#pragma once
// Chooses the algorithm for a collective. Deterministic from shared facts only (the same answer on every rank).
//
// Today the choice is: MIXCCL_ALGO if it names an algorithm that supports the request (globally, "ring", or per
// collective, "allreduce=ring,allgather=ring"), else the first supporting algorithm of the registry. The cost
// model over the cluster view arrives with issue 4.
#include <string>

#include "algorithms/algorithm.h"
#include "core/status.h"

namespace mixccl {

class Selector {
 public:
  // Parses `override` (MIXCCL_ALGO syntax). An unknown algorithm or collective name is mixcclInvalidUsage.
  static Result create(const std::string& override, Selector* out);
  // The algorithm for this request, never nullptr when some algorithm supports it (else mixcclInternalError).
  Result select(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const;

 private:
  const Algorithm* forced_[kNumCollTypes] = {};
};

}  // namespace mixccl

#pragma once
// One rank's view of the benchmark's communicator, and the small collectives the harness itself needs (barrier,
// combining times and error counts over ranks). All are collective: every rank calls them in the same order. They throw
// PerfError.
#include <cstdint>

#include "mixccl.h"

namespace mixccl::perf {

struct RankContext {
  mixcclComm_t comm = nullptr;
  int rank = 0;
  int nranks = 1;
};

// A 1-element all-reduce: no rank leaves before every rank has entered.
void barrier(const RankContext& ctx);

// All-reduce of one double with `op` (mixcclSum, mixcclMax, mixcclMin); every rank gets the result.
double allReduceDouble(const RankContext& ctx, double value, mixcclRedOp_t op);

// Sum of one uint64 over all ranks.
uint64_t allReduceSum(const RankContext& ctx, uint64_t value);

}  // namespace mixccl::perf

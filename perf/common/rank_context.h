#pragma once
// One rank's view of the benchmark's communicator and memory, and the small collectives the harness itself needs
// (barrier, combining times and error counts over ranks; on host memory whatever the benchmark's memory is). All
// are collective: every rank calls them in the same order. They throw PerfError.
#include <cstdint>

#include "device/gpu_backend.h"
#include "mixccl.h"

namespace mixccl::perf {

struct RankContext {
  mixcclComm_t comm = nullptr;
  int rank = 0;
  int nranks = 1;
  GpuBackend* gpu = nullptr;  // the rank's GPU when its buffers are device memory (common/rank_gpu.h), else nullptr
  void* stream = nullptr;     // the rank's stream on `gpu` (the collectives are issued on it)
  int device = -1;            // the device of `gpu` the rank uses; -1 for host memory
};

// A 1-element all-reduce: no rank leaves before every rank has entered.
void barrier(const RankContext& ctx);

// All-reduce of one double with `op` (mixcclSum, mixcclMax, mixcclMin); every rank gets the result.
double allReduceDouble(const RankContext& ctx, double value, mixcclRedOp_t op);

// Sum of one uint64 over all ranks.
uint64_t allReduceSum(const RankContext& ctx, uint64_t value);

}  // namespace mixccl::perf

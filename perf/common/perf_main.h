#pragma once
// The whole of a *_perf binary's main(): parse the flags, start the ranks, run the sweep, return the exit code (0 OK, 1
// error, 2 bad usage, 3 wrong results).
#include "common/collective.h"
#include "common/rank_gpu.h"

namespace mixccl::perf {

// `provider` finds each rank's GPU for device buffers (--memory); the shipped tools use the library's backends.
int perfMain(int argc, char** argv, const Collective& coll, GpuProvider provider = probeGpu);

}  // namespace mixccl::perf

#pragma once
// Starting the ranks of a perf run.
//
// With -N n, this process calls mixcclGetUniqueId (which serves the rendezvous from a background thread), then forks n
// children; child r calls mixcclCommInitRank(&comm, n, id, r). The parent takes no part: it waits for every child,
// names each that failed (exit code or signal), and if one fails gives the others kFailureGraceSeconds to finish before
// killing them, so a dead rank cannot hang the run. Without -N, this process is one rank of a launcher's job (mpirun,
// srun, torchrun): mixcclCommInitFromEnv.
//
// Either way each rank first opens its memory (common/rank_gpu.h: --memory, a GPU from `provider`, its stream) in its
// own process, then creates its communicator, runs `body`, destroys the communicator and closes its GPU.
// PerfError / UsageError / std::exception escaping `body` are reported on stderr with the rank, the communicator is
// aborted, and the rank exits non-zero.
#include <functional>
#include <string>

#include "common/options.h"
#include "common/rank_context.h"
#include "common/rank_gpu.h"

namespace mixccl::perf {

constexpr int kFailureGraceSeconds = 30;

using RankBody = std::function<int(const RankContext&)>;

// Returns the exit code of the tool (0 when every rank returned 0).
int launchRanks(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body);

}  // namespace mixccl::perf

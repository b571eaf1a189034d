#pragma once
// One rank's whole run: header, every (type, op, root, size) row, footer, --json. Rank 0 prints; every rank takes part
// in every op. The loops nest as nccl-tests' do: type, then op, then root, then size.
#include "common/collective.h"
#include "common/options.h"
#include "common/rank_context.h"

namespace mixccl::perf {

// Exit codes of a rank (and of the tool).
constexpr int kExitOk = 0;
constexpr int kExitError = 1;  // a library call failed, or the run could not complete
constexpr int kExitUsage = 2;  // bad command line
constexpr int kExitWrong = 3;  // the run completed but some results were wrong (#wrong > 0)

// Collective: every rank calls it. Returns kExitOk or kExitWrong; throws PerfError / UsageError.
int runSweep(const RankContext& ctx, const Options& options, const Collective& coll);

}  // namespace mixccl::perf

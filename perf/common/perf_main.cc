#include "common/perf_main.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/launcher.h"
#include "common/options.h"
#include "common/sweep.h"

namespace mixccl::perf {

int perfMain(int argc, char** argv, const Collective& coll, GpuProvider provider) {
  Options options;
  try {
    options = parseOptions(argc, argv);
    const int localTotal = options.localRanks * options.threadsPerProcess;
    if (coll.hasRoot && !options.allRoots && options.localRanks > 0 && options.root >= localTotal) {
      throw UsageError("-r " + std::to_string(options.root) + ": -N " + std::to_string(options.localRanks) +
                       (options.threadsPerProcess > 1 ? " -t " + std::to_string(options.threadsPerProcess) : "") +
                       " has no such rank");
    }
  } catch (const UsageError& e) {
    std::string message = e.what();
    if (message.empty()) {  // -h
      std::fputs(usageText(coll.name).c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "%s: %s\n%s", coll.name, message.c_str(), usageText(coll.name).c_str());
    return kExitUsage;
  }
  if (options.threadsPerProcess > 1) {
    // Ranks as threads share one GPU context, whose streams share CUDA_DEVICE_MAX_CONNECTIONS hardware queues (8
    // unless set). A stream that waits for a peer's flag, at the head of a queue, holds up every later command of
    // the queue, the peer's own write too when its stream shares it; 8 threads hung so on an H200 (perf/RESULTS.md).
    // The runtime reads the variable when it creates the context: it is set (unless the user did) before any rank
    // starts.
    setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", /*overwrite=*/0);
  }
  return launchRanks(options, coll.name, provider, [&](const RankContext& ctx) { return runSweep(ctx, options, coll); });
}

}  // namespace mixccl::perf

#include "common/perf_main.h"

#include <cstdio>
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
  return launchRanks(options, coll.name, provider, [&](const RankContext& ctx) { return runSweep(ctx, options, coll); });
}

}  // namespace mixccl::perf

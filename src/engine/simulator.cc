#include "engine/simulator.h"

#include <memory>
#include <string>

#include "core/datatype.h"
#include "device/device_backend.h"
#include "engine/executor.h"
#include "engine/sim_fabric.h"

namespace mixccl {

Result simulate(const Algorithm& algo, const CollArgs& args, int nranks, const SimOptions& options,
                const std::vector<SimRankBuffers>& buffers, SimStats* stats) {
  SimFabric fabric(nranks, options.chunkBytes, options.slotsPerChannel);
  std::vector<Plan> plans(nranks);
  std::vector<std::vector<Transport*>> routes(nranks, std::vector<Transport*>(nranks, nullptr));
  std::vector<std::unique_ptr<char[]>> scratch(nranks);
  std::vector<std::unique_ptr<Executor>> execs;
  const size_t elemBytes = dataTypeSize(args.dtype);
  ClusterView singleHost;
  const ClusterView* cluster = options.cluster;
  if (cluster == nullptr) {
    singleHost = ClusterView::singleHost(nranks);
    cluster = &singleHost;
  }
  for (int r = 0; r < nranks; ++r) {
    PlanContext ctx{r, nranks, options.chunkBytes, cluster};
    if (!algo.supports(args, ctx)) {
      return failf(mixcclInternalError, "simulate: %s does not support %s on %d ranks", algo.name(),
                   collName(args.type), nranks);
    }
    plans[r] = algo.plan(args, ctx);
    std::string problem = validatePlan(plans[r], r, nranks, sendElements(args, nranks), recvElements(args, nranks));
    if (!problem.empty()) {
      return failf(mixcclInternalError, "simulate: %s plan of rank %d/%d for %s count %llu: %s", algo.name(), r,
                   nranks, collName(args.type), static_cast<unsigned long long>(args.count), problem.c_str());
    }
    for (int p = 0; p < nranks; ++p) routes[r][p] = p == r ? nullptr : fabric.transport(r);
    scratch[r].reset(new char[plans[r].scratchElements * elemBytes + 1]);
    ExecBuffers bufs{buffers[r].send, buffers[r].recv, scratch[r].get()};
    execs.push_back(std::make_unique<Executor>(plans[r], args, r, nranks, bufs, routes[r], cpuBackend()));
  }

  uint64_t rounds = 0;
  for (;;) {
    bool anyProgress = false, allDone = true;
    for (int r = 0; r < nranks; ++r) {
      if (execs[r]->done()) continue;
      bool progressed = false;
      MIXCCL_TRY(execs[r]->advance(&progressed));
      anyProgress |= progressed;
      allDone &= execs[r]->done();
    }
    ++rounds;
    if (allDone) break;
    if (!anyProgress) {
      std::string blocked;
      int shown = 0;
      for (int r = 0; r < nranks && shown < 4; ++r) {
        if (execs[r]->done()) continue;
        blocked += " rank " + std::to_string(r) + ": " + execs[r]->waitingFor() + ";";
        ++shown;
      }
      return failf(mixcclInternalError, "simulate: %s %s on %d ranks deadlocked:%s", algo.name(),
                   collName(args.type), nranks, blocked.c_str());
    }
  }
  std::string where;
  uint64_t left = fabric.pending(&where);
  if (left != 0) {
    return failf(mixcclInternalError, "simulate: %s %s on %d ranks left %llu messages unconsumed (e.g. %s)",
                 algo.name(), collName(args.type), nranks, static_cast<unsigned long long>(left), where.c_str());
  }
  if (stats != nullptr) {
    stats->rounds = rounds;
    stats->messages = fabric.messages;
    stats->bytesOnWire = fabric.bytes;
    stats->steps = 0;
    for (const Plan& p : plans) stats->steps += p.steps.size();
  }
  return mixcclSuccess;
}

}  // namespace mixccl

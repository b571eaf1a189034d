// mixccl-info: what this build of mixccl has, the configuration in force, and which algorithm it would choose.
//   mixccl-info                     the build, the transports, the MIXCCL_* variables with their values, and the
//                                   selection tables for --ranks ranks (default 8) on this host
//   mixccl-info --transports        the transports built in, comma-separated (for scripts)
//   mixccl-info --ranks N           selection tables for N ranks on one host
//   mixccl-info --cluster FILE      selection tables for the cluster FILE describes (src/topology/cluster_file.h)
//   mixccl-info --cluster FILE --simulate
//                                   also runs the chosen plans for that cluster in the plan simulator, exactly
//                                   checked (exit status 1 if any result is wrong)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/config.h"
#include "device/gpu_backend.h"
#include "mixccl_build_config.h"
#include "tools/cluster_simulation.h"
#include "topology/cluster_file.h"
#include "topology/link_cost_text.h"
#include "topology/topology_text.h"
#include "transports/registry.h"
#include "tuning/selection_table.h"

namespace {

using namespace mixccl;

int usage(const char* argv0) {
  fprintf(stderr, "usage: %s [--transports] [--ranks N] [--cluster FILE [--simulate]]\n", argv0);
  return 2;
}

void printBuildAndConfig(const std::string& transports) {
  printf("mixccl %s\n\n", MIXCCL_VERSION_STRING);
  printf("Built with: CUDA %s, HIP %s, UCX %s, libfabric %s, hwloc %s\n", MIXCCL_HAVE_CUDA ? "yes" : "no",
         MIXCCL_HAVE_HIP ? "yes" : "no", MIXCCL_HAVE_UCX ? "yes" : "no", MIXCCL_HAVE_OFI ? "yes" : "no",
         MIXCCL_HAVE_HWLOC ? "yes" : "no");
  printf("Transports: %s\n", transports.c_str());
  for (MemoryType type : {MemoryType::kCuda, MemoryType::kHip}) {
    std::string reason;
    GpuBackend* backend = gpuBackend(type, &reason);
    if (backend != nullptr) {
      printf("GPU backend %s: %d device(s)\n", memoryTypeName(type), backend->deviceCount());
    } else {
      printf("GPU backend %s: unavailable: %s\n", memoryTypeName(type), reason.c_str());
    }
  }
  printf("\n");
  printf("Local topology:\n%s\n", localTopologySection().c_str());
  printf("%-24s %-10s %-8s %s\n", "variable", "value", "default", "description");
  for (const ConfigVar* var : configRegistry()) {
    printf("%-24s %-10s %-8s %s\n", var->name, configText(*var).c_str(), var->defaultValue, var->description);
  }
}

void printSelection(const ClusterView& view, const Selector& selector, uint64_t chunkBytes) {
  printf("\nCluster: %s\n", view.describe().c_str());
  printf("Link costs:");
  for (int c = 0; c < kNumLinkClasses; ++c) {
    const LinkCost& cost = view.cost(static_cast<LinkClass>(c));
    printf("%s %s %s/%s", c ? "," : "", linkClassName(static_cast<LinkClass>(c)), formatLatency(cost.alphaSec).c_str(),
           formatBandwidth(cost.bytesPerSec).c_str());
  }
  printf("\n\nSelection (per-rank buffer size, float32; modelled microseconds):\n");
  PlanContext ctx{0, view.nranks(), chunkBytes, &view};
  for (int c = 0; c < kNumCollTypes; ++c) {
    const CollType type = static_cast<CollType>(c);
    const uint64_t minBytes = 8;
    const uint64_t maxBytes = 1ull << 30;
    printf("%s", formatSelectionTable(type, selectionTable(selector, type, mixcclFloat32, ctx, minBytes, maxBytes, 4))
                     .c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string transports;
  for (const TransportInfo& t : compiledTransports()) transports += std::string(transports.empty() ? "" : ",") + t.name;
  const char* clusterFile = nullptr;
  bool simulate = false;
  int ranks = 8;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--transports") == 0) {
      printf("%s\n", transports.c_str());
      return 0;
    } else if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc) {
      clusterFile = argv[++i];
    } else if (strcmp(argv[i], "--ranks") == 0 && i + 1 < argc) {
      ranks = atoi(argv[++i]);
      if (ranks < 1) return usage(argv[0]);
    } else if (strcmp(argv[i], "--simulate") == 0) {
      simulate = true;
    } else {
      return usage(argv[0]);
    }
  }
  if (simulate && clusterFile == nullptr) {
    fprintf(stderr, "%s: --simulate needs --cluster FILE\n", argv[0]);
    return 2;
  }

  ClusterView view = ClusterView::singleHost(ranks);
  if (clusterFile != nullptr && loadClusterFile(clusterFile, &view) != mixcclSuccess) {
    fprintf(stderr, "%s: %s\n", argv[0], mixcclGetLastError(nullptr));
    return 1;
  }
  Selector selector;
  if (Selector::create(configString(cfg::kAlgo), &selector) != mixcclSuccess) {
    fprintf(stderr, "%s: %s\n", argv[0], mixcclGetLastError(nullptr));
    return 1;
  }
  const uint64_t chunkBytes = static_cast<uint64_t>(configInt(cfg::kChunkBytes));
  if (clusterFile == nullptr) printBuildAndConfig(transports);
  printSelection(view, selector, chunkBytes);
  if (!simulate) return 0;
  printf("\nSimulation of the chosen plans (every rank in this process, results checked exactly):\n");
  const int failures = simulateCluster(view, selector, chunkBytes, stdout);
  printf("%s\n", failures == 0 ? "all exact" : (std::to_string(failures) + " failed").c_str());
  return failures == 0 ? 0 : 1;
}

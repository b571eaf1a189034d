// mixccl-info: what this build of mixccl has and the configuration in force.
//   mixccl-info               the build, the transports, the MIXCCL_* variables with their values
//   mixccl-info --transports  the transports built in, comma-separated (for scripts)
#include <cstdio>
#include <cstring>
#include <string>

#include "core/config.h"
#include "device/gpu_backend.h"
#include "mixccl_build_config.h"
#include "transports/registry.h"

int main(int argc, char** argv) {
  using namespace mixccl;
  std::string transports;
  for (const TransportInfo& t : compiledTransports()) transports += std::string(transports.empty() ? "" : ",") + t.name;
  if (argc > 1 && strcmp(argv[1], "--transports") == 0) {
    printf("%s\n", transports.c_str());
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "usage: %s [--transports]\n", argv[0]);
    return 2;
  }
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
  printf("%-24s %-10s %-8s %s\n", "variable", "value", "default", "description");
  for (const ConfigVar* var : configRegistry()) {
    printf("%-24s %-10s %-8s %s\n", var->name, configText(*var).c_str(), var->defaultValue, var->description);
  }
  return 0;
}

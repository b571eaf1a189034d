// mixccl-info: what this build of mixccl has and the configuration in force.
#include <cstdio>

#include "core/config.h"
#include "mixccl_build_config.h"

int main() {
  using namespace mixccl;
  printf("mixccl %s\n\n", MIXCCL_VERSION_STRING);
  printf("Built with: CUDA %s, HIP %s, UCX %s, libfabric %s, hwloc %s\n\n", MIXCCL_HAVE_CUDA ? "yes" : "no",
         MIXCCL_HAVE_HIP ? "yes" : "no", MIXCCL_HAVE_UCX ? "yes" : "no", MIXCCL_HAVE_OFI ? "yes" : "no",
         MIXCCL_HAVE_HWLOC ? "yes" : "no");
  printf("%-24s %-10s %-8s %s\n", "variable", "value", "default", "description");
  for (const ConfigVar* var : configRegistry()) {
    printf("%-24s %-10s %-8s %s\n", var->name, configText(*var).c_str(), var->defaultValue, var->description);
  }
  return 0;
}

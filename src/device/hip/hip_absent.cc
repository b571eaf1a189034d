// The HIP probe of a build without HIP (MIXCCL_WITH_HIP=OFF, or AUTO without hipcc and libamdhip64-dev).
#include "device/gpu_probe.h"

namespace mixccl {

GpuBackend* probeHipBackend(std::string* reason) {
  if (reason != nullptr) {
    *reason = "this mixccl was built without HIP (configure with -DMIXCCL_WITH_HIP=ON; Debian: hipcc libamdhip64-dev)";
  }
  return nullptr;
}

}  // namespace mixccl

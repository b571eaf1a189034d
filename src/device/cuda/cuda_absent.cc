// The CUDA probe of a build without CUDA (MIXCCL_WITH_CUDA=OFF, or AUTO without a CUDA toolkit).
#include "device/gpu_probe.h"

namespace mixccl {

GpuBackend* probeCudaBackend(std::string* reason) {
  if (reason != nullptr) {
    *reason = "this mixccl was built without CUDA (configure with -DMIXCCL_WITH_CUDA=ON and a CUDA toolkit)";
  }
  return nullptr;
}

}  // namespace mixccl

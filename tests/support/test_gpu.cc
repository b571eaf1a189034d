#include "support/test_gpu.h"

#include <cstdlib>
#include <cstring>

#include "support/emulated_gpu.h"

namespace mixccl::testing {

bool testGpuIsEmulated() {
  const char* real = std::getenv("MIXCCL_TEST_REAL_GPU");
  return real == nullptr || std::strcmp(real, "1") != 0;
}

GpuBackend* testGpu(std::string* why, MemoryType vendor) {
  if (testGpuIsEmulated()) return &installEmulatedGpu(200, vendor == kAnyVendor ? MemoryType::kCuda : vendor);
  for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
    if (vendor != kAnyVendor && t != vendor) continue;
    std::string reason;
    if (GpuBackend* g = gpuBackend(t, &reason)) return g;
    *why += reason + "; ";
  }
  return nullptr;
}

}  // namespace mixccl::testing

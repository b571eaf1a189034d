#include "device/gpu_backend.h"

#include "device/gpu_probe.h"

namespace mixccl {
namespace {
GpuBackend* gTestBackend[kNumMemoryTypes] = {};
}  // namespace

void setGpuBackendForTesting(MemoryType type, GpuBackend* backend) { gTestBackend[int(type)] = backend; }

GpuBackend* gpuBackend(MemoryType type, std::string* reason) {
  if (gTestBackend[int(type)] != nullptr) return gTestBackend[int(type)];
  switch (type) {
    case MemoryType::kCuda: return probeCudaBackend(reason);
    case MemoryType::kHip: return probeHipBackend(reason);
    case MemoryType::kHost: break;
  }
  if (reason != nullptr) *reason = "host memory has no GPU backend (use cpuBackend())";
  return nullptr;
}

Result queryMemoryType(const void* ptr, PointerInfo* out) {
  for (MemoryType type : {MemoryType::kCuda, MemoryType::kHip}) {
    GpuBackend* backend = gpuBackend(type);
    if (backend == nullptr) continue;
    PointerInfo info;
    MIXCCL_TRY(backend->queryPointer(ptr, &info));
    if (info.type != MemoryType::kHost || info.pinned) {
      *out = info;
      return mixcclSuccess;
    }
  }
  *out = PointerInfo{};
  return mixcclSuccess;
}

}  // namespace mixccl

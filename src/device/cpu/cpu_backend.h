#pragma once
// The device backend of host memory: arithmetic with the kernels of cpu_reduce.h, copies with memcpy, scratch
// from the heap. Every call completes before it returns. Stateless, so one instance (cpuBackend()) serves every
// communicator and thread at once.
#include "device/device_backend.h"

namespace mixccl {

class CpuBackend final : public DeviceBackend {
 public:
  // Alignment of scratch allocations: one cache line (64 B), which also covers every vector width used.
  static constexpr size_t kScratchAlignment = 64;

  MemoryType memoryType() const override { return MemoryType::kHost; }
  const char* name() const override { return "cpu"; }

  void reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override;
  void postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override;
  void copy(void* dst, const void* src, size_t bytes) override;

  // bytes == 0 gives a valid, unique pointer (freeScratch accepts it, and nullptr).
  Result allocScratch(size_t bytes, void** out) override;
  void freeScratch(void* ptr) override;
};

}  // namespace mixccl

#pragma once
// Where arithmetic and copies run: one backend per memory type (host, CUDA, HIP).
//
// Contract: the engine calls a backend from the thread that drives the collective. The CPU backend completes
// every call before it returns. GPU backends (gpu_backend.h) implement these methods as synchronous
// conveniences on the default stream and add stream-ordered versions (*Async), streams, events, pinned memory,
// pointer queries and IPC. No backend knows about peers or the network. Buffers passed in are of the backend's
// memory type (or host memory the backend can read).
#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "mixccl.h"

namespace mixccl {

enum class MemoryType : uint8_t { kHost = 0, kCuda = 1, kHip = 2 };
constexpr int kNumMemoryTypes = 3;
const char* memoryTypeName(MemoryType type);
inline bool onGpu(MemoryType type) { return type != MemoryType::kHost; }

// How to combine elements. `op` is never mixcclAvg here: avg is a sum followed, where the value is final, by a
// division by `divisor` (0 or 1: no division). Floating types that are narrower than fp32 (fp16, bf16, fp8)
// are widened to fp32, combined, and rounded back to the type at every step (as NCCL does).
struct ReduceSpec {
  mixcclDataType_t dtype = mixcclFloat32;
  mixcclRedOp_t op = mixcclSum;
  uint32_t divisor = 0;
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual MemoryType memoryType() const = 0;
  virtual const char* name() const = 0;

  // dst[i] = a[i] (op) b[i], then divided by spec.divisor if > 1. dst may alias a or b exactly (not partially).
  virtual void reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) = 0;
  // dst[i] = src[i] / spec.divisor (the post-op alone, for a final value that needed no combining).
  virtual void postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) = 0;
  // memcpy semantics (no overlap unless dst == src, which is a no-op).
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;

  // Scratch memory of this memory type, freed with freeScratch.
  virtual Result allocScratch(size_t bytes, void** out) = 0;
  virtual void freeScratch(void* ptr) = 0;
};

// The CPU backend (always present). The returned object lives for the whole process.
DeviceBackend& cpuBackend();

}  // namespace mixccl

#pragma once
// Where a plan's steps do their arithmetic when that is not the host CPU: a GPU (issue 5: GPU ranks whose peers are
// reached through a transport's host slots; core/device_steps.h makes one, a queue of commands to a kernel). The
// executor enqueues a step's reduce / post-op / copy here and then fences; it hands the step's slots back to the
// transport, and moves to the lane's next step, only once the fence is reached. The host CPU needs no StepDevice: the
// executor calls its DeviceBackend, which completes every call before returning.
//
// Contract: the pointers are device memory of the GPU or host memory that GPU can load and store
// (slots registered with GpuBackend::hostRegister). Work completes in the order it was enqueued. Called by the
// one thread that drives the executor. Every Result is logged once, at its origin.
#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "device/device_backend.h"

namespace mixccl {

class StepDevice {
 public:
  virtual ~StepDevice() = default;
  // Enqueue the DeviceBackend operations of the same names (same meaning, same aliasing rules).
  virtual Result reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) = 0;
  virtual Result postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) = 0;
  virtual Result copy(void* dst, const void* src, size_t bytes) = 0;
  // Marks the end of everything enqueued so far; *fence names that point (later fences are larger).
  virtual Result fence(uint64_t* fence) = 0;
  // *done = whether everything enqueued before `fence` has completed.
  virtual Result reached(uint64_t fence, bool* done) = 0;
};

}  // namespace mixccl

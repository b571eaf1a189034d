#pragma once
// Host-callable entry points of the element-wise kernels, one set per build of the kernel source:
// kernels::cuda (nvcc), kernels::hip (hipcc) and kernels::host (the host C++ emulation that unit tests run).
// Plain C++: includes no vendor header, so backends and tests compiled by the host compiler can call them.
//
// Contract: each call enqueues one kernel on `stream` (a cudaStream_t / hipStream_t; nullptr = the default
// stream) and returns at once; the host build runs it to completion before returning. The return value is the
// runtime's error code of the launch (cudaError_t / hipError_t as int; 0 = success), which the backend turns
// into a message with its runtime. kInvalidSpec means a dtype/op the kernels do not have (an invariant
// violation: the engine validated both long before). Pointers must be readable and writable by the device of
// the stream, aligned to the element size; dst may alias a, b or src exactly, never partially.
// Semantics are those of DeviceBackend::reduce/postOp (device_backend.h) and of the CPU backend, bit for bit.
// launchWaitFlag: one thread that polls the 32-bit word at `flag` (pinned host memory, or device memory) until
// it is at or past `value` in wrap-around order (int32_t(*flag - value) >= 0); the stream's later work waits.
// launchWriteFlag: *flag = value after the stream's earlier work. launchReduceN: dst = srcs[0] op ... op
// srcs[n-1] element-wise in that order (1 <= n <= kMaxReduceInputs of reduce_kernels.h, else kInvalidSpec).
// launchReduceToAll: for i in [lo, lo + count), the rank-order reduction of every rank's send[i] written to every
// rank's recv[i], where rank r's send and recv addresses are the four words at words[r] (send low, high, recv low,
// high), read by the kernel when it runs (1 <= n <= kMaxReduceInputs). Every address must be usable by this device.
// launchFused: a fused all-reduce round of fused_args.h for one rank, by args.kind: the one-shot kernel of
// one_shot_kernel.h (one block) or the direct kernel of fused_direct_kernel.h (at most 1 / n of the blocks the device
// holds at once). Each waits inside the kernel for the other ranks' kernels, so every rank's kernel must be able to
// run at once; kInvalidSpec unless 1 <= n <= kFusedMaxRanks and 0 <= me < n.
// launchStepServer: the step server of step_queue.h for job `ticket` (kStepServerBlocks blocks; the host build runs
// it to the job's end in the calling thread); `counter`: kStepCounterWords words of device memory, the first zero
// before the queue's first job, counter[1 + ticket % kStepExitSlots] zero when this kernel starts.
// preloadKernels: loads every kernel of the build into the current device's context, blocking, and returns the
// first error. With lazy loading (the CUDA default since 12.2) a kernel is otherwise loaded at its first launch,
// and loading may wait for the whole device to go idle: a launch behind a stream that waits for the host (or for
// another process) would then block the launching thread, possibly for ever. Call it where waiting is harmless
// (communicator init). The host build has nothing to load.
#include <cstddef>
#include <cstdint>

#include "device/device_backend.h"
#include "device/kernels/fused_args.h"
#include "device/kernels/step_queue.h"

namespace mixccl::kernels {

constexpr int kInvalidSpec = -1;

// Launch geometry. Zero fields mean "choose from the count" (kThreadsPerBlock threads, at most kMaxBlocks
// blocks); tests pass explicit shapes to the host build to exercise the grid-stride loops.
struct LaunchShape {
  unsigned blocks = 0;
  unsigned threads = 0;
};

constexpr unsigned kThreadsPerBlock = 512;
// 1024 blocks of 512 threads: 4 resident blocks per SM on a 132-SM H100 would be 528; the surplus keeps every
// SM busy through the tail without a device query per launch.
constexpr unsigned kMaxBlocks = 1024;

#define MIXCCL_DECLARE_GPU_KERNEL_API                                                                           \
  int launchReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec, void* stream, \
                   LaunchShape shape = {});                                                                     \
  int launchPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream,              \
                   LaunchShape shape = {});                                                                     \
  int launchCopy(void* dst, const void* src, size_t bytes, void* stream, LaunchShape shape = {});             \
  int launchWaitFlag(const uint32_t* flag, uint32_t value, void* stream);                                      \
  int launchWriteFlag(uint32_t* flag, uint32_t value, void* stream);                                           \
  int launchReduceN(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,          \
                    void* stream, LaunchShape shape = {});                                                     \
  int launchReduceToAll(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,     \
                        void* stream);                                                                         \
  int launchFused(const FusedArgs& args, const ReduceSpec& spec, void* stream);                             \
  int launchStepServer(StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream);                    \
  int preloadKernels();

namespace cuda {
MIXCCL_DECLARE_GPU_KERNEL_API
}
namespace hip {
MIXCCL_DECLARE_GPU_KERNEL_API
}
namespace host {
MIXCCL_DECLARE_GPU_KERNEL_API
}

#undef MIXCCL_DECLARE_GPU_KERNEL_API

}  // namespace mixccl::kernels

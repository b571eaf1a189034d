#pragma once
// The stream-ordered side of a GPU memory type (CUDA, HIP): what the engine and the gpu_ipc transport need
// beyond DeviceBackend's arithmetic. One implementation per vendor (src/device/cuda/, src/device/hip/); callers
// get one through gpuBackend(), which says why when there is none (not built, no driver, no device).
//
// Contract:
// * Thread safety: every method may be called from any thread at once. Methods act on the device that is
//   current on the calling thread (cudaSetDevice/hipSetDevice; setDevice() below), like the vendor runtimes.
// * Streams and events are the vendor's handles passed as void* (mixcclStream_t); nullptr is the default stream.
// * *Async methods enqueue on the stream and return at once; a later error of the work itself shows up at the
//   next synchronising call on that stream. Every Result is logged once here, with the runtime's message.
// * The DeviceBackend methods (reduce, postOp, copy, scratch) of a GPU backend are synchronous conveniences:
//   they enqueue on the default stream and wait for it; an error is logged (it cannot be returned) and kept as
//   the sticky error that stickyError() reports. Stream-ordered code uses the *Async methods instead.
// * Outputs are written only on success.
#include <cstddef>
#include <cstdint>
#include <string>

#include "device/device_backend.h"
#include "device/kernels/fused_args.h"
#include "device/kernels/step_queue.h"

namespace mixccl {

// What a pointer points to, as the runtime that knows it says.
struct PointerInfo {
  MemoryType type = MemoryType::kHost;  // kHost: pageable or pinned host memory
  int device = -1;                      // the owning device; -1 for host memory
  bool pinned = false;                  // host memory registered with / allocated by the runtime
  bool managed = false;                 // managed (unified) memory, migrates between host and device
};

// An exported device allocation, to send to another process on the same host (bytes only, no pointers).
struct IpcHandle {
  static constexpr size_t kBytes = 64;  // cudaIpcMemHandle_t and hipIpcMemHandle_t are 64 bytes
  uint8_t bytes[kBytes] = {};
};

class GpuBackend : public DeviceBackend {
 public:
  // ---- Devices.
  virtual int deviceCount() const = 0;
  virtual Result currentDevice(int* out) = 0;
  virtual Result setDevice(int device) = 0;
  // Loads every kernel of this backend into the current device's context now, once per device; blocking. A
  // kernel loaded lazily at its first launch can make that launch wait for the device to go idle, which never
  // happens while a stream waits for the caller (a gate) or for a peer: call this at communicator init, and
  // before the first launch. With `onlyIfStarted`, does nothing while the device's context does not exist yet
  // (a communicator of a process that has not used its GPU does not create a context for it).
  virtual Result loadKernels(bool onlyIfStarted) = 0;
  // The PCI bus id of `device` if this process has started using it (its context exists), else "" (also where the
  // runtime cannot tell). Ranks compare these to notice separate processes on one GPU.
  virtual std::string busIdInUse(int device) = 0;

  // ---- Memory.
  // Which memory `ptr` is. Host pointers the runtime does not know are reported as pageable host memory.
  virtual Result queryPointer(const void* ptr, PointerInfo* out) = 0;
  // Device memory of the current device (allocScratch is the same, for the engine's scratch).
  virtual Result allocDevice(size_t bytes, void** out) = 0;
  virtual Result freeDevice(void* ptr) = 0;
  // Page-locked host memory that every device can copy from and to at full speed (staging buffers), mapped into
  // every device's address space at the same address (kernels may read it: streamWaitFlag's flags).
  virtual Result allocPinned(size_t bytes, void** out) = 0;
  virtual Result freePinned(void* ptr) = 0;
  // Page-locks `bytes` of existing host memory at `ptr` (memory this library owns, e.g. a transport's slots) and
  // maps it into every device's address space at the same address, as allocPinned memory: copies to and from it
  // run at full speed and kernels may load and store it. Fails, registering nothing, where the device would see it
  // at another address. hostUnregister(ptr) undoes it (ptr as registered).
  virtual Result hostRegister(void* ptr, size_t bytes) = 0;
  virtual Result hostUnregister(void* ptr) = 0;
  // Whether the current device sees registered host memory at the host's address (what hostRegister needs); false
  // also where the runtime cannot tell. Logs nothing.
  virtual bool mapsHostMemoryInPlace() = 0;
  // How many hardware queues a context of this process has for its streams (the runtime's setting, read from the
  // environment it reads at start: CUDA_DEVICE_MAX_CONNECTIONS, HIP's GPU_MAX_HW_QUEUES, or the runtime's default).
  // Streams beyond that share queues, and a stream waiting at the head of one holds up the others behind it.
  virtual int hardwareQueues() const = 0;

  // ---- Stream-ordered work.
  // memcpy in any direction between host, pinned and device memory (the runtime's copy engines).
  virtual Result copyAsync(void* dst, const void* src, size_t bytes, void* stream) = 0;
  // A copy by a kernel: both sides must be device (or IPC-mapped) memory the stream's device can load and store.
  virtual Result copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) = 0;
  // DeviceBackend::reduce and postOp, enqueued on `stream`.
  virtual Result reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                             void* stream) = 0;
  virtual Result postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) = 0;
  // dst = srcs[0] op srcs[1] op ... op srcs[n-1] element-wise, combined in that order and rounded after every
  // step (bit for bit a chain of reduce() calls), then divided by spec.divisor if > 1. 1 <= n <= 16; the sources
  // may be IPC-mapped memory of peers.
  virtual Result reduceNAsync(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                              void* stream) = 0;
  // For i in [lo, lo + count): the rank-order reduction (as reduceNAsync) of every rank's send[i], written to every
  // rank's recv[i]; rank r's send and recv addresses are read, when the kernel runs, from the four 32-bit words at
  // words[r] (send low, high, recv low, high: written on a stream with streamWriteFlag). 1 <= n <= 16; every
  // address must be memory this device can load and store (ranks of one process on one GPU).
  virtual Result reduceToAllAsync(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                                  void* stream) = 0;
  // A fused all-reduce round of kernels/fused_args.h (one-shot or direct, by args.kind) for one rank on `stream`
  // (ranks of one process on this device: it waits inside the kernel for the other ranks' kernels, so theirs must be
  // able to run at once). Every pointer must be memory this device can load and store.
  virtual Result fusedAsync(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) = 0;
  // The step server of kernels/step_queue.h for job `ticket` on `stream`: a kernel that runs the commands a host
  // thread writes into `queue` (allocPinned memory) until the job's exit command. `counter`: kStepCounterWords
  // words of device memory, the first zero before the queue's first job, counter[1 + ticket % kStepExitSlots] zero
  // when the kernel starts (zero it on the stream first).
  virtual Result launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) = 0;
  // Flags: 32-bit words in allocPinned memory, or in device memory (own or IPC-mapped) of the stream's device.
  // streamWaitFlag: the stream's later work waits until *flag is at or past `value` in wrap-around order
  // (int32_t(*flag - value) >= 0). streamWriteFlag: *flag = value once the stream's earlier work is done and
  // visible. The host advances a word with a release store after writing what the waiting work reads. Both use
  // stream memory operations where the driver has them, else one-thread kernels (MIXCCL_STREAM_WAIT).
  virtual Result streamWaitFlag(void* stream, const uint32_t* flag, uint32_t value) = 0;
  virtual Result streamWriteFlag(void* stream, uint32_t* flag, uint32_t value) = 0;

  // ---- Streams and events ("signal" = record an event on a stream; "wait" = make a stream wait for one).
  virtual Result streamCreate(void** out) = 0;  // non-blocking with respect to the default stream
  virtual Result streamDestroy(void* stream) = 0;
  virtual Result streamSynchronize(void* stream) = 0;
  // Returns once every stream of the current device has run what was queued on it before the call. Unlike a free's
  // implicit synchronisation, it is taken not to hold up other threads' calls while it waits (checked on a GPU by
  // GpuBackendTest.DeviceSynchronizeHoldsUpNoOtherThreadsCalls).
  virtual Result deviceSynchronize() = 0;
  virtual Result eventCreate(void** out) = 0;  // without timing
  virtual Result eventDestroy(void* event) = 0;
  virtual Result eventRecord(void* event, void* stream) = 0;
  virtual Result streamWaitEvent(void* stream, void* event) = 0;
  // *done = whether everything the event waits for has finished (a pending event is not an error).
  virtual Result eventQuery(void* event, bool* done) = 0;

  // ---- IPC between processes of one host.
  // Exports the allocation that starts at `base` (allocDevice/allocScratch memory, the whole allocation).
  virtual Result ipcExport(const void* base, IpcHandle* out) = 0;
  // Maps another process's export into this one; *out is the start of that allocation here. Close with ipcClose.
  virtual Result ipcImport(const IpcHandle& handle, void** out) = 0;
  virtual Result ipcClose(void* mapped) = 0;

  // The first error of a DeviceBackend method (which cannot return one), mixcclSuccess if none.
  virtual Result stickyError() const = 0;
};

// The backend of a GPU memory type (kCuda, kHip), probed once per process: nullptr when it is not usable, with
// the reason in *reason (not built into this library, no driver, no device: the runtime's own message). The
// object lives for the whole process. kHost gives nullptr ("host memory has no GPU backend").
GpuBackend* gpuBackend(MemoryType type, std::string* reason = nullptr);

// For tests only: makes gpuBackend(type) return `backend` (nullptr: back to the probed one) from now on, so the
// GPU paths of the engine run on a host emulation (tests/support/emulated_gpu.h). Not thread-safe with callers.
void setGpuBackendForTesting(MemoryType type, GpuBackend* backend);

// Which memory `ptr` is, asking every usable GPU backend; pageable host memory when none knows it.
Result queryMemoryType(const void* ptr, PointerInfo* out);

}  // namespace mixccl

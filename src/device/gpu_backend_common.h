#pragma once
// The vendor-neutral half of every GpuBackend: one class template over a runtime traits struct `Rt` that each
// vendor file supplies (src/device/cuda/cuda_backend.cc, src/device/hip/hip_backend.cc, chosen by CMake). The
// template holds the logic (sync conveniences and the sticky error, empty and null arguments, IPC handle
// packing, the probe's messages); `Rt` holds only the runtime calls. No vendor header is included here.
// The contract is GpuBackend's (device/gpu_backend.h).
//
// What `Rt` provides (every Result-returning call logs its own error once, with the runtime's message, and
// writes its outputs only on success):
//   using IpcMemHandle                      the runtime's IPC handle type (at most IpcHandle::kBytes)
//   kMemoryType, kName ("cuda"), kVendor ("CUDA")
//   checkLaunch(int code, what)             a kernel launcher's code (kernels/gpu_kernels.h) as a Result
//   launchCopy, launchReduce, launchPostOp, launchWaitFlag  the kernels of kernels::<vendor>
//   launchWriteFlag, launchReduceN, launchReduceToAll, launchFused, launchStepServer
//   preloadKernels()                        kernels::<vendor>::preloadKernels (the current device's context)
//   contextActive(device)                   whether the device's primary context exists (true where unknown)
//   pciBusId(device, out, len)              the device's PCI bus id as text; false where the runtime has none
//   streamWaitValue / streamWriteValue(stream, flag, value, error)  the runtime's stream memory operations
//                                           (as GpuBackend's streamWaitFlag / streamWriteFlag); false with the
//                                           reason in *error when unavailable
//   getDevice, setDevice, queryPointer, malloc, free, hostAlloc, hostFree (sizes > 0, pointers not null),
//   hostRegister (page-lock and map, portable), hostUnregister, hostDevicePointer (where a device sees it),
//   hostPointerUsable() (the current device sees registered host memory at the host's address; false if unknown),
//   memcpyAsync, streamCreate, streamDestroy, streamSynchronize, eventCreate, eventDestroy, eventRecord,
//   streamWaitEvent, eventQuery (*done = false for a pending event), ipcGetMemHandle, ipcOpenMemHandle,
//   ipcCloseMemHandle
//   versions(int* runtime, int* driver)     0 for what is not installed
//   deviceCount(int* count, std::string* error): false, with the runtime's message, when there is no device
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "device/gpu_backend.h"
#include "device/kernels/gpu_kernels.h"

namespace mixccl::detail {

template <class Rt>
class GpuBackendCommon final : public GpuBackend {
 public:
  static_assert(sizeof(typename Rt::IpcMemHandle) <= IpcHandle::kBytes, "IpcHandle too small for the runtime's");

  explicit GpuBackendCommon(int devices) : devices_(devices) {}

  MemoryType memoryType() const override { return Rt::kMemoryType; }
  const char* name() const override { return Rt::kName; }

  // ---- DeviceBackend: synchronous on the default stream.
  void reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override {
    Result r = reduceAsync(dst, a, b, count, spec, nullptr);
    sync(r == mixcclSuccess ? streamSynchronize(nullptr) : r);
  }
  void postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override {
    Result r = postOpAsync(dst, src, count, spec, nullptr);
    sync(r == mixcclSuccess ? streamSynchronize(nullptr) : r);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    Result r = copyAsync(dst, src, bytes, nullptr);
    sync(r == mixcclSuccess ? streamSynchronize(nullptr) : r);
  }
  Result allocScratch(size_t bytes, void** out) override { return allocDevice(bytes, out); }
  void freeScratch(void* ptr) override { sync(freeDevice(ptr)); }

  // ---- Devices.
  int deviceCount() const override { return devices_; }
  Result currentDevice(int* out) override { return Rt::getDevice(out); }
  Result setDevice(int device) override { return Rt::setDevice(device); }
  std::string busIdInUse(int device) override {
    char bus[32] = {};
    if (!Rt::contextActive(device) || !Rt::pciBusId(device, bus, int(sizeof(bus)) - 1)) return "";
    return bus;
  }
  Result loadKernels(bool onlyIfStarted) override {
    int device = -1;
    MIXCCL_TRY(Rt::getDevice(&device));
    const uint64_t bit = (device >= 0 && device < 64) ? uint64_t(1) << device : 0;
    if (bit != 0 && (loadedOn_.load() & bit) != 0) return mixcclSuccess;
    if (onlyIfStarted && !Rt::contextActive(device)) return mixcclSuccess;
    MIXCCL_TRY(checkLaunch(Rt::preloadKernels(), "loading the kernels", nullptr));
    loadedOn_.fetch_or(bit);
    return mixcclSuccess;
  }

  // ---- Memory.
  Result queryPointer(const void* ptr, PointerInfo* out) override { return Rt::queryPointer(ptr, out); }
  Result allocDevice(size_t bytes, void** out) override { return Rt::malloc(bytes == 0 ? 1 : bytes, out); }
  Result freeDevice(void* ptr) override { return ptr == nullptr ? mixcclSuccess : Rt::free(ptr); }
  Result allocPinned(size_t bytes, void** out) override { return Rt::hostAlloc(bytes == 0 ? 1 : bytes, out); }
  Result freePinned(void* ptr) override { return ptr == nullptr ? mixcclSuccess : Rt::hostFree(ptr); }
  Result hostRegister(void* ptr, size_t bytes) override {
    if (ptr == nullptr || bytes == 0) {
      return failf(mixcclInvalidArgument, "%s backend: hostRegister of %zu bytes at %p", Rt::kName, bytes, ptr);
    }
    MIXCCL_TRY(Rt::hostRegister(ptr, bytes));
    void* seen = nullptr;
    Result r = Rt::hostDevicePointer(ptr, &seen);
    if (r == mixcclSuccess && seen != ptr) {
      r = failf(mixcclSystemError, "%s backend: registered host memory %p is at %p on the device; kernels need the "
                "same address", Rt::kName, ptr, seen);
    }
    if (r != mixcclSuccess) Rt::hostUnregister(ptr);
    return r;
  }
  Result hostUnregister(void* ptr) override { return Rt::hostUnregister(ptr); }
  bool mapsHostMemoryInPlace() override { return Rt::hostPointerUsable(); }
  int hardwareQueues() const override {
    const char* set = std::getenv(Rt::kQueuesVariable);
    return set != nullptr && std::atoi(set) > 0 ? std::atoi(set) : Rt::kDefaultQueues;
  }

  // ---- Stream-ordered work.
  Result copyAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    if (bytes == 0 || dst == src) return mixcclSuccess;
    return Rt::memcpyAsync(dst, src, bytes, stream);
  }
  Result copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    return checkLaunch(Rt::launchCopy(dst, src, bytes, stream), "copy kernel launch", nullptr);
  }
  Result reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                     void* stream) override {
    return checkLaunch(Rt::launchReduce(dst, a, b, count, spec, stream), "reduce kernel launch", &spec);
  }
  Result postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) override {
    return checkLaunch(Rt::launchPostOp(dst, src, count, spec, stream), "post-op kernel launch", &spec);
  }
  Result reduceNAsync(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                      void* stream) override {
    return checkLaunch(Rt::launchReduceN(dst, srcs, n, count, spec, stream), "reduce-n kernel launch", &spec);
  }
  Result launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) override {
    return checkLaunch(Rt::launchStepServer(queue, counter, ticket, stream), "step server kernel launch", nullptr);
  }
  Result reduceToAllAsync(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                          void* stream) override {
    return checkLaunch(Rt::launchReduceToAll(words, n, lo, count, spec, stream), "reduce-to-all kernel launch", &spec);
  }
  Result fusedAsync(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) override {
    return checkLaunch(Rt::launchFused(args, spec, stream), "fused kernel launch", &spec);
  }
  Result streamWaitFlag(void* stream, const uint32_t* flag, uint32_t value) override {
    std::string error;
    if (useMemOp([&] { return Rt::streamWaitValue(stream, flag, value, &error); }, &error)) return mixcclSuccess;
    if (!error.empty()) return memOpFailure(error);
    return checkLaunch(Rt::launchWaitFlag(flag, value, stream), "wait-flag kernel launch", nullptr);
  }
  Result streamWriteFlag(void* stream, uint32_t* flag, uint32_t value) override {
    std::string error;
    if (useMemOp([&] { return Rt::streamWriteValue(stream, flag, value, &error); }, &error)) return mixcclSuccess;
    if (!error.empty()) return memOpFailure(error);
    return checkLaunch(Rt::launchWriteFlag(flag, value, stream), "write-flag kernel launch", nullptr);
  }

  // ---- Streams and events.
  Result streamCreate(void** out) override { return Rt::streamCreate(out); }
  Result streamDestroy(void* stream) override { return Rt::streamDestroy(stream); }
  Result streamSynchronize(void* stream) override { return Rt::streamSynchronize(stream); }
  Result deviceSynchronize() override { return Rt::deviceSynchronize(); }
  Result eventCreate(void** out) override { return Rt::eventCreate(out); }
  Result eventDestroy(void* event) override { return Rt::eventDestroy(event); }
  Result eventRecord(void* event, void* stream) override { return Rt::eventRecord(event, stream); }
  Result streamWaitEvent(void* stream, void* event) override { return Rt::streamWaitEvent(stream, event); }
  Result eventQuery(void* event, bool* done) override { return Rt::eventQuery(event, done); }

  // ---- IPC.
  Result ipcExport(const void* base, IpcHandle* out) override {
    typename Rt::IpcMemHandle h;
    MIXCCL_TRY(Rt::ipcGetMemHandle(const_cast<void*>(base), &h));
    IpcHandle handle;
    std::memcpy(handle.bytes, &h, sizeof(h));
    *out = handle;
    return mixcclSuccess;
  }
  Result ipcImport(const IpcHandle& handle, void** out) override {
    typename Rt::IpcMemHandle h;
    std::memcpy(&h, handle.bytes, sizeof(h));
    return Rt::ipcOpenMemHandle(h, out);
  }
  Result ipcClose(void* mapped) override { return Rt::ipcCloseMemHandle(mapped); }

  Result stickyError() const override { return static_cast<Result>(sticky_.load()); }

 private:
  // A kernel launcher's code as a Result; kInvalidSpec is an invariant violation, not a runtime error.
  static Result checkLaunch(int code, const char* what, const ReduceSpec* spec) {
    if (code == kernels::kInvalidSpec) {
      return failf(mixcclInternalError, "%s backend: %s called with dtype %d op %d (invariant violated)", Rt::kName,
                   what, spec != nullptr ? int(spec->dtype) : -1, spec != nullptr ? int(spec->op) : -1);
    }
    return Rt::checkLaunch(code, what);
  }

  // MIXCCL_STREAM_WAIT: memop uses the runtime's stream memory operations (an error where they fail), kernel the
  // one-thread kernels, auto the memory operations until one fails, then the kernels (said once at INFO).
  // Returns true when `op` ran as a memory operation; false with *error empty: use the kernel; false with
  // *error set: fail (memop mode).
  template <typename Op>
  bool useMemOp(Op op, std::string* error) {
    const std::string mode = configString(cfg::kStreamWait);
    if (mode == "kernel" || !memOpUsable_.load()) return false;
    if (op()) return true;
    if (mode == "memop") return false;
    if (memOpUsable_.exchange(false)) {
      MIXCCL_LOG(kInfo, "%s backend: stream memory operations unavailable (%s); streams wait and signal with "
                 "one-thread kernels", Rt::kName, error->c_str());
    }
    error->clear();
    return false;
  }
  static Result memOpFailure(const std::string& error) {
    return failf(mixcclUnhandledCudaError, "%s backend: stream memory operation failed: %s (MIXCCL_STREAM_WAIT=memop)",
                 Rt::kName, error.c_str());
  }

  // Keeps the first error of a method that cannot return it (already logged at its origin).
  void sync(Result r) {
    int expected = mixcclSuccess;
    if (r != mixcclSuccess) sticky_.compare_exchange_strong(expected, r);
  }

  const int devices_;
  std::atomic<uint64_t> loadedOn_{0};  // devices (bit = index, below 64) whose context has every kernel loaded
  std::atomic<int> sticky_{mixcclSuccess};
  std::atomic<bool> memOpUsable_{true};
};

struct GpuProbe {
  GpuBackend* backend = nullptr;
  std::string reason;
};

template <class Rt>
GpuProbe probeGpuOnce() {
  int runtime = 0, driver = 0, count = 0;
  Rt::versions(&runtime, &driver);
  std::string error;
  if (!Rt::deviceCount(&count, &error)) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "no usable %s device: %s, %d device(s); %s runtime %d, driver %d", Rt::kVendor,
                  error.c_str(), count, Rt::kVendor, runtime, driver);
    MIXCCL_LOG(kInfo, "%s", buf);
    return GpuProbe{nullptr, buf};
  }
  MIXCCL_LOG(kInfo, "%s backend: %d device(s), %s runtime %d, driver %d", Rt::kName, count, Rt::kVendor, runtime,
             driver);
  // Never destroyed: static objects may use it while the process exits.
  return GpuProbe{new GpuBackendCommon<Rt>(count), ""};
}

// The backend of runtime Rt, probed once per process (what gpuBackend() in gpu_backend.h returns).
template <class Rt>
GpuBackend* probeGpuBackend(std::string* reason) {
  static const GpuProbe kProbe = probeGpuOnce<Rt>();
  if (kProbe.backend == nullptr && reason != nullptr) *reason = kProbe.reason;
  return kProbe.backend;
}

}  // namespace mixccl::detail

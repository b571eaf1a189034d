// The HIP backend: GpuBackend on the HIP runtime (libamdhip64, ROCm), kernels from src/device/kernels/ built by
// hipcc (hip_kernels.hip). Compiled by the host compiler with __HIP_PLATFORM_AMD__ (set by src/CMakeLists.txt).
#include <hip/hip_runtime_api.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/log.h"
#include "device/gpu_backend.h"
#include "device/gpu_probe.h"
#include "device/kernels/gpu_kernels.h"

namespace mixccl {
namespace {

static_assert(sizeof(hipIpcMemHandle_t) <= IpcHandle::kBytes, "IpcHandle too small for hipIpcMemHandle_t");

hipStream_t toStream(void* s) { return static_cast<hipStream_t>(s); }
hipEvent_t toEvent(void* e) { return static_cast<hipEvent_t>(e); }

// The one place a HIP error becomes a Result (logged once, with the runtime's name and message).
Result check(hipError_t err, const char* call) {
  if (err == hipSuccess) return mixcclSuccess;
  return failf(mixcclUnhandledCudaError, "hip backend: %s failed: %s (%s)", call, hipGetErrorName(err),
               hipGetErrorString(err));
}

Result checkLaunch(int code, const char* what, const ReduceSpec* spec) {
  if (code == kernels::kInvalidSpec) {
    return failf(mixcclInternalError, "hip backend: %s called with dtype %d op %d (invariant violated)", what,
                 spec != nullptr ? int(spec->dtype) : -1, spec != nullptr ? int(spec->op) : -1);
  }
  return check(static_cast<hipError_t>(code), what);
}

class HipBackend final : public GpuBackend {
 public:
  explicit HipBackend(int devices) : devices_(devices) {}

  MemoryType memoryType() const override { return MemoryType::kHip; }
  const char* name() const override { return "hip"; }

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
  Result currentDevice(int* out) override {
    int dev = -1;
    MIXCCL_TRY(check(hipGetDevice(&dev), "hipGetDevice"));
    *out = dev;
    return mixcclSuccess;
  }
  Result setDevice(int device) override { return check(hipSetDevice(device), "hipSetDevice"); }

  // ---- Memory.
  Result queryPointer(const void* ptr, PointerInfo* out) override {
    hipPointerAttribute_t attr;
    std::memset(&attr, 0, sizeof(attr));
    hipError_t err = hipPointerGetAttributes(&attr, ptr);
    PointerInfo info;
    if (err == hipErrorInvalidValue) {
      // ROCm 5 answers "invalid value" for memory it does not know: pageable host memory.
      (void)hipGetLastError();
      *out = info;
      return mixcclSuccess;
    }
    MIXCCL_TRY(check(err, "hipPointerGetAttributes"));
    if (attr.isManaged != 0) {
      info.type = MemoryType::kHip;
      info.device = attr.device;
      info.managed = true;
    } else if (attr.memoryType == hipMemoryTypeHost) {
      info.pinned = true;
    } else {
      info.type = MemoryType::kHip;  // device or array memory
      info.device = attr.device;
    }
    *out = info;
    return mixcclSuccess;
  }
  Result allocDevice(size_t bytes, void** out) override {
    void* p = nullptr;
    MIXCCL_TRY(check(hipMalloc(&p, bytes == 0 ? 1 : bytes), "hipMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  Result freeDevice(void* ptr) override { return ptr == nullptr ? mixcclSuccess : check(hipFree(ptr), "hipFree"); }
  Result allocPinned(size_t bytes, void** out) override {
    void* p = nullptr;
    MIXCCL_TRY(check(hipHostMalloc(&p, bytes == 0 ? 1 : bytes, hipHostMallocPortable), "hipHostMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  Result freePinned(void* ptr) override {
    return ptr == nullptr ? mixcclSuccess : check(hipHostFree(ptr), "hipHostFree");
  }

  // ---- Stream-ordered work.
  Result copyAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    if (bytes == 0 || dst == src) return mixcclSuccess;
    return check(hipMemcpyAsync(dst, src, bytes, hipMemcpyDefault, toStream(stream)), "hipMemcpyAsync");
  }
  Result copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    return checkLaunch(kernels::hip::launchCopy(dst, src, bytes, stream), "copy kernel launch", nullptr);
  }
  Result reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                     void* stream) override {
    return checkLaunch(kernels::hip::launchReduce(dst, a, b, count, spec, stream), "reduce kernel launch", &spec);
  }
  Result postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) override {
    return checkLaunch(kernels::hip::launchPostOp(dst, src, count, spec, stream), "post-op kernel launch", &spec);
  }

  // ---- Streams and events.
  Result streamCreate(void** out) override {
    hipStream_t s = nullptr;
    MIXCCL_TRY(check(hipStreamCreateWithFlags(&s, hipStreamNonBlocking), "hipStreamCreateWithFlags"));
    *out = s;
    return mixcclSuccess;
  }
  Result streamDestroy(void* stream) override { return check(hipStreamDestroy(toStream(stream)), "hipStreamDestroy"); }
  Result streamSynchronize(void* stream) override {
    return check(hipStreamSynchronize(toStream(stream)), "hipStreamSynchronize");
  }
  Result eventCreate(void** out) override {
    hipEvent_t e = nullptr;
    MIXCCL_TRY(check(hipEventCreateWithFlags(&e, hipEventDisableTiming), "hipEventCreateWithFlags"));
    *out = e;
    return mixcclSuccess;
  }
  Result eventDestroy(void* event) override { return check(hipEventDestroy(toEvent(event)), "hipEventDestroy"); }
  Result eventRecord(void* event, void* stream) override {
    return check(hipEventRecord(toEvent(event), toStream(stream)), "hipEventRecord");
  }
  Result streamWaitEvent(void* stream, void* event) override {
    return check(hipStreamWaitEvent(toStream(stream), toEvent(event), 0), "hipStreamWaitEvent");
  }
  Result eventQuery(void* event, bool* done) override {
    hipError_t err = hipEventQuery(toEvent(event));
    if (err == hipErrorNotReady) {
      *done = false;
      return mixcclSuccess;
    }
    MIXCCL_TRY(check(err, "hipEventQuery"));
    *done = true;
    return mixcclSuccess;
  }

  // ---- IPC.
  Result ipcExport(const void* base, IpcHandle* out) override {
    hipIpcMemHandle_t h;
    MIXCCL_TRY(check(hipIpcGetMemHandle(&h, const_cast<void*>(base)), "hipIpcGetMemHandle"));
    IpcHandle handle;
    std::memcpy(handle.bytes, &h, sizeof(h));
    *out = handle;
    return mixcclSuccess;
  }
  Result ipcImport(const IpcHandle& handle, void** out) override {
    hipIpcMemHandle_t h;
    std::memcpy(&h, handle.bytes, sizeof(h));
    void* p = nullptr;
    MIXCCL_TRY(check(hipIpcOpenMemHandle(&p, h, hipIpcMemLazyEnablePeerAccess), "hipIpcOpenMemHandle"));
    *out = p;
    return mixcclSuccess;
  }
  Result ipcClose(void* mapped) override { return check(hipIpcCloseMemHandle(mapped), "hipIpcCloseMemHandle"); }

  Result stickyError() const override { return static_cast<Result>(sticky_.load()); }

 private:
  // Keeps the first error of a method that cannot return it (already logged at its origin).
  void sync(Result r) {
    int expected = mixcclSuccess;
    if (r != mixcclSuccess) sticky_.compare_exchange_strong(expected, r);
  }

  const int devices_;
  std::atomic<int> sticky_{mixcclSuccess};
};

struct Probe {
  GpuBackend* backend = nullptr;
  std::string reason;
};

Probe probeOnce() {
  int runtime = 0, driver = 0, count = 0;
  (void)hipRuntimeGetVersion(&runtime);
  (void)hipDriverGetVersion(&driver);  // 0 when no driver is installed
  hipError_t err = hipGetDeviceCount(&count);
  char buf[512];
  if (err != hipSuccess || count <= 0) {
    std::snprintf(buf, sizeof(buf),
                  "no usable HIP device: hipGetDeviceCount gave %s (%s), %d device(s); "
                  "HIP runtime %d, driver %d",
                  hipGetErrorName(err), hipGetErrorString(err), count, runtime, driver);
    MIXCCL_LOG(kInfo, "%s", buf);
    return Probe{nullptr, buf};
  }
  MIXCCL_LOG(kInfo, "hip backend: %d device(s), HIP runtime %d, driver %d", count, runtime, driver);
  return Probe{new HipBackend(count), ""};  // never destroyed: static objects may use it while the process exits
}

}  // namespace

GpuBackend* probeHipBackend(std::string* reason) {
  static const Probe kProbe = probeOnce();
  if (kProbe.backend == nullptr && reason != nullptr) *reason = kProbe.reason;
  return kProbe.backend;
}

}  // namespace mixccl

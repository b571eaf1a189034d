// The CUDA backend: GpuBackend on the CUDA runtime (linked statically, see src/CMakeLists.txt), kernels from
// src/device/kernels/ built by nvcc (cuda_kernels.cu).
#include <cuda_runtime_api.h>

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

static_assert(sizeof(cudaIpcMemHandle_t) <= IpcHandle::kBytes, "IpcHandle too small for cudaIpcMemHandle_t");

cudaStream_t toStream(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t toEvent(void* e) { return static_cast<cudaEvent_t>(e); }

// The one place a CUDA error becomes a Result (logged once, with the runtime's name and message).
Result check(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return mixcclSuccess;
  return failf(mixcclUnhandledCudaError, "cuda backend: %s failed: %s (%s)", call, cudaGetErrorName(err),
               cudaGetErrorString(err));
}

Result checkLaunch(int code, const char* what, const ReduceSpec* spec) {
  if (code == kernels::kInvalidSpec) {
    return failf(mixcclInternalError, "cuda backend: %s called with dtype %d op %d (invariant violated)", what,
                 spec != nullptr ? int(spec->dtype) : -1, spec != nullptr ? int(spec->op) : -1);
  }
  return check(static_cast<cudaError_t>(code), what);
}

class CudaBackend final : public GpuBackend {
 public:
  explicit CudaBackend(int devices) : devices_(devices) {}

  MemoryType memoryType() const override { return MemoryType::kCuda; }
  const char* name() const override { return "cuda"; }

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
    MIXCCL_TRY(check(cudaGetDevice(&dev), "cudaGetDevice"));
    *out = dev;
    return mixcclSuccess;
  }
  Result setDevice(int device) override { return check(cudaSetDevice(device), "cudaSetDevice"); }

  // ---- Memory.
  Result queryPointer(const void* ptr, PointerInfo* out) override {
    cudaPointerAttributes attr;
    std::memset(&attr, 0, sizeof(attr));
    MIXCCL_TRY(check(cudaPointerGetAttributes(&attr, ptr), "cudaPointerGetAttributes"));
    PointerInfo info;
    switch (attr.type) {
      case cudaMemoryTypeUnregistered: break;
      case cudaMemoryTypeHost: info.pinned = true; break;
      case cudaMemoryTypeDevice:
        info.type = MemoryType::kCuda;
        info.device = attr.device;
        break;
      case cudaMemoryTypeManaged:
        info.type = MemoryType::kCuda;
        info.device = attr.device;
        info.managed = true;
        break;
    }
    *out = info;
    return mixcclSuccess;
  }
  Result allocDevice(size_t bytes, void** out) override {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  Result freeDevice(void* ptr) override { return ptr == nullptr ? mixcclSuccess : check(cudaFree(ptr), "cudaFree"); }
  Result allocPinned(size_t bytes, void** out) override {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaHostAlloc(&p, bytes == 0 ? 1 : bytes, cudaHostAllocPortable), "cudaHostAlloc"));
    *out = p;
    return mixcclSuccess;
  }
  Result freePinned(void* ptr) override {
    return ptr == nullptr ? mixcclSuccess : check(cudaFreeHost(ptr), "cudaFreeHost");
  }

  // ---- Stream-ordered work.
  Result copyAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    if (bytes == 0 || dst == src) return mixcclSuccess;
    return check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, toStream(stream)), "cudaMemcpyAsync");
  }
  Result copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) override {
    return checkLaunch(kernels::cuda::launchCopy(dst, src, bytes, stream), "copy kernel launch", nullptr);
  }
  Result reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                     void* stream) override {
    return checkLaunch(kernels::cuda::launchReduce(dst, a, b, count, spec, stream), "reduce kernel launch", &spec);
  }
  Result postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) override {
    return checkLaunch(kernels::cuda::launchPostOp(dst, src, count, spec, stream), "post-op kernel launch", &spec);
  }

  // ---- Streams and events.
  Result streamCreate(void** out) override {
    cudaStream_t s = nullptr;
    MIXCCL_TRY(check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
    *out = s;
    return mixcclSuccess;
  }
  Result streamDestroy(void* stream) override {
    return check(cudaStreamDestroy(toStream(stream)), "cudaStreamDestroy");
  }
  Result streamSynchronize(void* stream) override {
    return check(cudaStreamSynchronize(toStream(stream)), "cudaStreamSynchronize");
  }
  Result eventCreate(void** out) override {
    cudaEvent_t e = nullptr;
    MIXCCL_TRY(check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags"));
    *out = e;
    return mixcclSuccess;
  }
  Result eventDestroy(void* event) override { return check(cudaEventDestroy(toEvent(event)), "cudaEventDestroy"); }
  Result eventRecord(void* event, void* stream) override {
    return check(cudaEventRecord(toEvent(event), toStream(stream)), "cudaEventRecord");
  }
  Result streamWaitEvent(void* stream, void* event) override {
    return check(cudaStreamWaitEvent(toStream(stream), toEvent(event), 0), "cudaStreamWaitEvent");
  }
  Result eventQuery(void* event, bool* done) override {
    cudaError_t err = cudaEventQuery(toEvent(event));
    if (err == cudaErrorNotReady) {
      *done = false;
      return mixcclSuccess;
    }
    MIXCCL_TRY(check(err, "cudaEventQuery"));
    *done = true;
    return mixcclSuccess;
  }

  // ---- IPC.
  Result ipcExport(const void* base, IpcHandle* out) override {
    cudaIpcMemHandle_t h;
    MIXCCL_TRY(check(cudaIpcGetMemHandle(&h, const_cast<void*>(base)), "cudaIpcGetMemHandle"));
    IpcHandle handle;
    std::memcpy(handle.bytes, &h, sizeof(h));
    *out = handle;
    return mixcclSuccess;
  }
  Result ipcImport(const IpcHandle& handle, void** out) override {
    cudaIpcMemHandle_t h;
    std::memcpy(&h, handle.bytes, sizeof(h));
    void* p = nullptr;
    MIXCCL_TRY(check(cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess), "cudaIpcOpenMemHandle"));
    *out = p;
    return mixcclSuccess;
  }
  Result ipcClose(void* mapped) override { return check(cudaIpcCloseMemHandle(mapped), "cudaIpcCloseMemHandle"); }

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
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  cudaError_t err = cudaGetDeviceCount(&count);
  char buf[512];
  if (err != cudaSuccess || count <= 0) {
    std::snprintf(buf, sizeof(buf),
                  "no usable CUDA device: cudaGetDeviceCount gave %s (%s), %d device(s); "
                  "CUDA runtime %d, driver %d",
                  cudaGetErrorName(err), cudaGetErrorString(err), count, runtime, driver);
    MIXCCL_LOG(kInfo, "%s", buf);
    return Probe{nullptr, buf};
  }
  MIXCCL_LOG(kInfo, "cuda backend: %d device(s), CUDA runtime %d, driver %d", count, runtime, driver);
  return Probe{new CudaBackend(count), ""};  // never destroyed: static objects may use it while the process exits
}

}  // namespace

GpuBackend* probeCudaBackend(std::string* reason) {
  static const Probe kProbe = probeOnce();
  if (kProbe.backend == nullptr && reason != nullptr) *reason = kProbe.reason;
  return kProbe.backend;
}

}  // namespace mixccl

// The CUDA backend: GpuBackend on the CUDA runtime (linked statically, see src/CMakeLists.txt), kernels from
// src/device/kernels/ built by nvcc (cuda_kernels.cu). The logic is detail::GpuBackendCommon
// (device/gpu_backend_common.h); this file holds only the CUDA runtime calls it is instantiated with.
#include <cuda.h>  // driver types only: the driver entry point is found at run time
#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "device/gpu_backend_common.h"
#include "device/gpu_probe.h"
#include "device/kernels/gpu_kernels.h"

namespace mixccl {
namespace {

cudaStream_t toStream(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t toEvent(void* e) { return static_cast<cudaEvent_t>(e); }

// The one place a CUDA error becomes a Result (logged once, with the runtime's name and message).
Result check(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return mixcclSuccess;
  return failf(mixcclUnhandledCudaError, "cuda backend: %s failed: %s (%s)", call, cudaGetErrorName(err),
               cudaGetErrorString(err));
}

// The CUDA runtime calls of detail::GpuBackendCommon (its header lists what each one means).
struct CudaRuntime {
  using IpcMemHandle = cudaIpcMemHandle_t;
  static constexpr MemoryType kMemoryType = MemoryType::kCuda;
  static constexpr const char* kName = "cuda";
  static constexpr const char* kVendor = "CUDA";
  static constexpr const char* kQueuesVariable = "CUDA_DEVICE_MAX_CONNECTIONS";
  static constexpr int kDefaultQueues = 8;

  static Result checkLaunch(int code, const char* what) { return check(static_cast<cudaError_t>(code), what); }
  static int launchCopy(void* dst, const void* src, size_t bytes, void* stream) {
    return kernels::cuda::launchCopy(dst, src, bytes, stream);
  }
  static int launchWaitFlag(const uint32_t* flag, uint32_t value, void* stream) {
    return kernels::cuda::launchWaitFlag(flag, value, stream);
  }
  static int launchWriteFlag(uint32_t* flag, uint32_t value, void* stream) {
    return kernels::cuda::launchWriteFlag(flag, value, stream);
  }
  static int launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) {
    return kernels::cuda::launchStepServer(queue, counter, ticket, stream);
  }
  static int launchReduceToAll(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                               void* stream) {
    return kernels::cuda::launchReduceToAll(words, n, lo, count, spec, stream);
  }
  static int launchFused(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) {
    return kernels::cuda::launchFused(args, spec, stream);
  }
  static int preloadKernels() { return kernels::cuda::preloadKernels(); }
  static int launchReduceN(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                           void* stream) {
    return kernels::cuda::launchReduceN(dst, srcs, n, count, spec, stream);
  }
  // cuStreamWaitValue32 / cuStreamWriteValue32: driver calls, found through the runtime (no libcuda linked).
  template <typename Fn>
  static Fn driverEntry(const char* symbol) {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion(symbol, &p, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      return nullptr;
    }
    return reinterpret_cast<Fn>(p);
  }
  using StreamValue32 = CUresult (*)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
  static bool memOp(StreamValue32 fn, const char* name, void* stream, const uint32_t* flag, uint32_t value,
                    unsigned flags, std::string* error) {
    if (fn == nullptr) {
      *error = std::string("the driver has no ") + name;
      return false;
    }
    CUresult rc = fn(toStream(stream), reinterpret_cast<CUdeviceptr>(flag), value, flags);
    if (rc != CUDA_SUCCESS) {
      *error = std::string(name) + " gave CUresult " + std::to_string(int(rc));
      return false;
    }
    return true;
  }
  static bool streamWaitValue(void* stream, const uint32_t* flag, uint32_t value, std::string* error) {
    static const StreamValue32 fn = driverEntry<StreamValue32>("cuStreamWaitValue32");
    return memOp(fn, "cuStreamWaitValue32", stream, flag, value, CU_STREAM_WAIT_VALUE_GEQ, error);
  }
  static bool streamWriteValue(void* stream, uint32_t* flag, uint32_t value, std::string* error) {
    static const StreamValue32 fn = driverEntry<StreamValue32>("cuStreamWriteValue32");
    return memOp(fn, "cuStreamWriteValue32", stream, flag, value, CU_STREAM_WRITE_VALUE_DEFAULT, error);
  }
  static int launchReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                          void* stream) {
    return kernels::cuda::launchReduce(dst, a, b, count, spec, stream);
  }
  static int launchPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) {
    return kernels::cuda::launchPostOp(dst, src, count, spec, stream);
  }

  static Result getDevice(int* out) {
    int dev = -1;
    MIXCCL_TRY(check(cudaGetDevice(&dev), "cudaGetDevice"));
    *out = dev;
    return mixcclSuccess;
  }
  static Result setDevice(int device) { return check(cudaSetDevice(device), "cudaSetDevice"); }
  static bool pciBusId(int device, char* out, int len) {
    return cudaDeviceGetPCIBusId(out, len, device) == cudaSuccess;
  }
  // Whether `device`'s primary context exists (the application has used the device); true where unknown.
  static bool contextActive(int device) {
    using DeviceGet = CUresult (*)(CUdevice*, int);
    using CtxState = CUresult (*)(CUdevice, unsigned int*, int*);
    static const DeviceGet get = driverEntry<DeviceGet>("cuDeviceGet");
    static const CtxState state = driverEntry<CtxState>("cuDevicePrimaryCtxGetState");
    CUdevice dev = 0;
    unsigned int flags = 0;
    int active = 1;
    if (get == nullptr || state == nullptr || get(&dev, device) != CUDA_SUCCESS) return true;
    return state(dev, &flags, &active) != CUDA_SUCCESS || active != 0;
  }

  static Result queryPointer(const void* ptr, PointerInfo* out) {
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
  static Result malloc(size_t bytes, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaMalloc(&p, bytes), "cudaMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  static Result free(void* ptr) { return check(cudaFree(ptr), "cudaFree"); }
  static Result hostAlloc(size_t bytes, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaHostAlloc(&p, bytes, cudaHostAllocPortable | cudaHostAllocMapped), "cudaHostAlloc"));
    *out = p;
    return mixcclSuccess;
  }
  static Result hostFree(void* ptr) { return check(cudaFreeHost(ptr), "cudaFreeHost"); }
  static Result hostRegister(void* ptr, size_t bytes) {
    return check(cudaHostRegister(ptr, bytes, cudaHostRegisterPortable | cudaHostRegisterMapped), "cudaHostRegister");
  }
  static Result hostUnregister(void* ptr) { return check(cudaHostUnregister(ptr), "cudaHostUnregister"); }
  static bool hostPointerUsable() {
    int device = 0, value = 0;
    return cudaGetDevice(&device) == cudaSuccess &&
           cudaDeviceGetAttribute(&value, cudaDevAttrCanUseHostPointerForRegisteredMem, device) == cudaSuccess &&
           value != 0;
  }
  static Result hostDevicePointer(void* ptr, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaHostGetDevicePointer(&p, ptr, 0), "cudaHostGetDevicePointer"));
    *out = p;
    return mixcclSuccess;
  }
  static Result memcpyAsync(void* dst, const void* src, size_t bytes, void* stream) {
    return check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, toStream(stream)), "cudaMemcpyAsync");
  }

  static Result streamCreate(void** out) {
    cudaStream_t s = nullptr;
    MIXCCL_TRY(check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
    *out = s;
    return mixcclSuccess;
  }
  static Result streamDestroy(void* stream) {
    return check(cudaStreamDestroy(toStream(stream)), "cudaStreamDestroy");
  }
  static Result streamSynchronize(void* stream) {
    return check(cudaStreamSynchronize(toStream(stream)), "cudaStreamSynchronize");
  }
  static Result deviceSynchronize() { return check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
  static Result eventCreate(void** out) {
    cudaEvent_t e = nullptr;
    MIXCCL_TRY(check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags"));
    *out = e;
    return mixcclSuccess;
  }
  static Result eventDestroy(void* event) { return check(cudaEventDestroy(toEvent(event)), "cudaEventDestroy"); }
  static Result eventRecord(void* event, void* stream) {
    return check(cudaEventRecord(toEvent(event), toStream(stream)), "cudaEventRecord");
  }
  static Result streamWaitEvent(void* stream, void* event) {
    return check(cudaStreamWaitEvent(toStream(stream), toEvent(event), 0), "cudaStreamWaitEvent");
  }
  static Result eventQuery(void* event, bool* done) {
    cudaError_t err = cudaEventQuery(toEvent(event));
    if (err == cudaErrorNotReady) {
      *done = false;
      return mixcclSuccess;
    }
    MIXCCL_TRY(check(err, "cudaEventQuery"));
    *done = true;
    return mixcclSuccess;
  }

  static Result ipcGetMemHandle(void* base, IpcMemHandle* out) {
    return check(cudaIpcGetMemHandle(out, base), "cudaIpcGetMemHandle");
  }
  static Result ipcOpenMemHandle(IpcMemHandle handle, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(cudaIpcOpenMemHandle(&p, handle, cudaIpcMemLazyEnablePeerAccess), "cudaIpcOpenMemHandle"));
    *out = p;
    return mixcclSuccess;
  }
  static Result ipcCloseMemHandle(void* mapped) {
    return check(cudaIpcCloseMemHandle(mapped), "cudaIpcCloseMemHandle");
  }

  static void versions(int* runtime, int* driver) {
    cudaRuntimeGetVersion(runtime);
    cudaDriverGetVersion(driver);  // 0 when no driver is installed
  }
  static bool deviceCount(int* count, std::string* error) {
    cudaError_t err = cudaGetDeviceCount(count);
    if (err == cudaSuccess && *count > 0) return true;
    *error = std::string("cudaGetDeviceCount gave ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    return false;
  }
};

}  // namespace

GpuBackend* probeCudaBackend(std::string* reason) { return detail::probeGpuBackend<CudaRuntime>(reason); }

}  // namespace mixccl

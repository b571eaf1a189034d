// The HIP backend: GpuBackend on the HIP runtime (libamdhip64, ROCm), kernels from src/device/kernels/ built by
// hipcc (hip_kernels.hip). Compiled by the host compiler with __HIP_PLATFORM_AMD__ (set by src/CMakeLists.txt).
// The logic is detail::GpuBackendCommon (device/gpu_backend_common.h); this file holds only the HIP runtime
// calls it is instantiated with.
#include <hip/hip_runtime_api.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "device/gpu_backend_common.h"
#include "device/gpu_probe.h"
#include "device/kernels/gpu_kernels.h"

namespace mixccl {
namespace {

hipStream_t toStream(void* s) { return static_cast<hipStream_t>(s); }
hipEvent_t toEvent(void* e) { return static_cast<hipEvent_t>(e); }

// The one place a HIP error becomes a Result (logged once, with the runtime's name and message).
Result check(hipError_t err, const char* call) {
  if (err == hipSuccess) return mixcclSuccess;
  return failf(mixcclUnhandledCudaError, "hip backend: %s failed: %s (%s)", call, hipGetErrorName(err),
               hipGetErrorString(err));
}

// The HIP runtime calls of detail::GpuBackendCommon (its header lists what each one means).
struct HipRuntime {
  using IpcMemHandle = hipIpcMemHandle_t;
  static constexpr MemoryType kMemoryType = MemoryType::kHip;
  static constexpr const char* kName = "hip";
  static constexpr const char* kVendor = "HIP";
  static constexpr const char* kQueuesVariable = "GPU_MAX_HW_QUEUES";
  static constexpr int kDefaultQueues = 4;

  static Result checkLaunch(int code, const char* what) { return check(static_cast<hipError_t>(code), what); }
  static int launchCopy(void* dst, const void* src, size_t bytes, void* stream) {
    return kernels::hip::launchCopy(dst, src, bytes, stream);
  }
  static int launchWaitFlag(const uint32_t* flag, uint32_t value, void* stream) {
    return kernels::hip::launchWaitFlag(flag, value, stream);
  }
  static int launchWriteFlag(uint32_t* flag, uint32_t value, void* stream) {
    return kernels::hip::launchWriteFlag(flag, value, stream);
  }
  static int launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) {
    return kernels::hip::launchStepServer(queue, counter, ticket, stream);
  }
  static int launchReduceToAll(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                               void* stream) {
    return kernels::hip::launchReduceToAll(words, n, lo, count, spec, stream);
  }
  static int launchFused(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) {
    return kernels::hip::launchFused(args, spec, stream);
  }
  static int preloadKernels() { return kernels::hip::preloadKernels(); }
  static int launchReduceN(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                           void* stream) {
    return kernels::hip::launchReduceN(dst, srcs, n, count, spec, stream);
  }
  static bool streamWaitValue(void* stream, const uint32_t* flag, uint32_t value, std::string* error) {
    hipError_t rc = hipStreamWaitValue32(toStream(stream), const_cast<uint32_t*>(flag), value, hipStreamWaitValueGte,
                                         0xFFFFFFFFu);
    if (rc == hipSuccess) return true;
    *error = std::string("hipStreamWaitValue32 gave ") + hipGetErrorName(rc);
    return false;
  }
  static bool streamWriteValue(void* stream, uint32_t* flag, uint32_t value, std::string* error) {
    hipError_t rc = hipStreamWriteValue32(toStream(stream), flag, value, 0);
    if (rc == hipSuccess) return true;
    *error = std::string("hipStreamWriteValue32 gave ") + hipGetErrorName(rc);
    return false;
  }
  static int launchReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                          void* stream) {
    return kernels::hip::launchReduce(dst, a, b, count, spec, stream);
  }
  static int launchPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) {
    return kernels::hip::launchPostOp(dst, src, count, spec, stream);
  }

  static Result getDevice(int* out) {
    int dev = -1;
    MIXCCL_TRY(check(hipGetDevice(&dev), "hipGetDevice"));
    *out = dev;
    return mixcclSuccess;
  }
  static Result setDevice(int device) { return check(hipSetDevice(device), "hipSetDevice"); }
  static bool pciBusId(int device, char* out, int len) {
    return hipDeviceGetPCIBusId(out, len, device) == hipSuccess;
  }
  // Whether `device`'s primary context exists (the application has used the device); true where unknown.
  static bool contextActive(int device) {
    hipDevice_t dev = 0;
    unsigned int flags = 0;
    int active = 1;
    if (hipDeviceGet(&dev, device) != hipSuccess) return true;
    return hipDevicePrimaryCtxGetState(dev, &flags, &active) != hipSuccess || active != 0;
  }

  static Result queryPointer(const void* ptr, PointerInfo* out) {
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
  static Result malloc(size_t bytes, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(hipMalloc(&p, bytes), "hipMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  static Result free(void* ptr) { return check(hipFree(ptr), "hipFree"); }
  static Result hostAlloc(size_t bytes, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(hipHostMalloc(&p, bytes, hipHostMallocPortable | hipHostMallocMapped), "hipHostMalloc"));
    *out = p;
    return mixcclSuccess;
  }
  static Result hostFree(void* ptr) { return check(hipHostFree(ptr), "hipHostFree"); }
  static Result hostRegister(void* ptr, size_t bytes) {
    return check(hipHostRegister(ptr, bytes, hipHostRegisterPortable | hipHostRegisterMapped), "hipHostRegister");
  }
  static Result hostUnregister(void* ptr) { return check(hipHostUnregister(ptr), "hipHostUnregister"); }
  static bool hostPointerUsable() {
    int device = 0, value = 0;
    if (hipGetDevice(&device) != hipSuccess) return false;
    if (hipDeviceGetAttribute(&value, hipDeviceAttributeCanUseHostPointerForRegisteredMem, device) != hipSuccess) {
      (void)hipGetLastError();  // an attribute this runtime does not know is an answer (no), not an error
      return false;
    }
    return value != 0;
  }
  static Result hostDevicePointer(void* ptr, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(hipHostGetDevicePointer(&p, ptr, 0), "hipHostGetDevicePointer"));
    *out = p;
    return mixcclSuccess;
  }
  static Result memcpyAsync(void* dst, const void* src, size_t bytes, void* stream) {
    return check(hipMemcpyAsync(dst, src, bytes, hipMemcpyDefault, toStream(stream)), "hipMemcpyAsync");
  }

  static Result streamCreate(void** out) {
    hipStream_t s = nullptr;
    MIXCCL_TRY(check(hipStreamCreateWithFlags(&s, hipStreamNonBlocking), "hipStreamCreateWithFlags"));
    *out = s;
    return mixcclSuccess;
  }
  static Result streamDestroy(void* stream) {
    return check(hipStreamDestroy(toStream(stream)), "hipStreamDestroy");
  }
  static Result streamSynchronize(void* stream) {
    return check(hipStreamSynchronize(toStream(stream)), "hipStreamSynchronize");
  }
  static Result deviceSynchronize() { return check(hipDeviceSynchronize(), "hipDeviceSynchronize"); }
  static Result eventCreate(void** out) {
    hipEvent_t e = nullptr;
    MIXCCL_TRY(check(hipEventCreateWithFlags(&e, hipEventDisableTiming), "hipEventCreateWithFlags"));
    *out = e;
    return mixcclSuccess;
  }
  static Result eventDestroy(void* event) { return check(hipEventDestroy(toEvent(event)), "hipEventDestroy"); }
  static Result eventRecord(void* event, void* stream) {
    return check(hipEventRecord(toEvent(event), toStream(stream)), "hipEventRecord");
  }
  static Result streamWaitEvent(void* stream, void* event) {
    return check(hipStreamWaitEvent(toStream(stream), toEvent(event), 0), "hipStreamWaitEvent");
  }
  static Result eventQuery(void* event, bool* done) {
    hipError_t err = hipEventQuery(toEvent(event));
    if (err == hipErrorNotReady) {
      *done = false;
      return mixcclSuccess;
    }
    MIXCCL_TRY(check(err, "hipEventQuery"));
    *done = true;
    return mixcclSuccess;
  }

  static Result ipcGetMemHandle(void* base, IpcMemHandle* out) {
    return check(hipIpcGetMemHandle(out, base), "hipIpcGetMemHandle");
  }
  static Result ipcOpenMemHandle(IpcMemHandle handle, void** out) {
    void* p = nullptr;
    MIXCCL_TRY(check(hipIpcOpenMemHandle(&p, handle, hipIpcMemLazyEnablePeerAccess), "hipIpcOpenMemHandle"));
    *out = p;
    return mixcclSuccess;
  }
  static Result ipcCloseMemHandle(void* mapped) {
    return check(hipIpcCloseMemHandle(mapped), "hipIpcCloseMemHandle");
  }

  static void versions(int* runtime, int* driver) {
    (void)hipRuntimeGetVersion(runtime);
    (void)hipDriverGetVersion(driver);  // 0 when no driver is installed
  }
  static bool deviceCount(int* count, std::string* error) {
    hipError_t err = hipGetDeviceCount(count);
    if (err == hipSuccess && *count > 0) return true;
    *error = std::string("hipGetDeviceCount gave ") + hipGetErrorName(err) + " (" + hipGetErrorString(err) + ")";
    return false;
  }
};

}  // namespace

GpuBackend* probeHipBackend(std::string* reason) { return detail::probeGpuBackend<HipRuntime>(reason); }

}  // namespace mixccl

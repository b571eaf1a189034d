#pragma once
// The one place where the kernel sources of src/device/kernels/ learn which compiler builds them. The same
// source compiles three ways:
//   * CUDA  (nvcc, __CUDACC__):           kernels run on NVIDIA GPUs;
//   * HIP   (hipcc, __HIPCC__):           kernels run on AMD GPUs;
//   * host  (any C++ compiler, neither):  a kernel launch runs every thread of the grid one after the other on
//     the calling thread, so unit tests execute the very same kernel bodies (index arithmetic, vector packs,
//     head/tail handling, arithmetic) on a machine without a GPU.
// Kernel code uses only what is defined here: MIXCCL_KERNEL, MIXCCL_DEVICE_INLINE, MIXCCL_UNROLL, gpuThreadIndex(),
// gpuThreadCount(), floatBits()/bitsFloat(), doubleBits()/bitsDouble(), loadPack()/storePack()/loadPackFresh(),
// MIXCCL_GPU_LAUNCH, gpuLastError(), gpuPreload(), gpuPause(), gpuLoadVolatile() and gpuStoreVolatile(), and for
// kernels whose blocks cooperate MIXCCL_BLOCK_SHARED, gpuIsBlockLeader(), gpuThreadInBlock(), gpuBlockThreads(),
// gpuBlockIndex(), gpuBlockCount(), gpuBlockSync(), gpuFenceSystem(), gpuAtomicAdd64(), gpuLoadVolatile64(),
// gpuLoadFresh(), and on the host side gpuDeviceBlocks(). Every kernel header
// puts its code in mixccl::kernels::MIXCCL_GPU_NS (cuda, hip or host), so the builds never share a symbol when they
// are linked into one library.
//
// Device code is the C++17 subset that nvcc and the hipcc of ROCm 5.2 (clang 15) both accept.
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define MIXCCL_GPU_NS cuda
#define MIXCCL_GPU_DEVICE_CODE 1
using mixcclGpuStream_t = cudaStream_t;
#elif defined(__HIPCC__)
#include <hip/hip_runtime.h>
#define MIXCCL_GPU_NS hip
#define MIXCCL_GPU_DEVICE_CODE 1
using mixcclGpuStream_t = hipStream_t;
#else
#include <thread>
#define MIXCCL_GPU_NS host
#define MIXCCL_GPU_DEVICE_CODE 0
using mixcclGpuStream_t = void*;
#endif

#if MIXCCL_GPU_DEVICE_CODE
#define MIXCCL_KERNEL __global__ void
#define MIXCCL_DEVICE_INLINE __device__ __forceinline__
#define MIXCCL_UNROLL _Pragma("unroll")
#else
#define MIXCCL_KERNEL void
#define MIXCCL_DEVICE_INLINE inline
#define MIXCCL_UNROLL
#endif

namespace mixccl::kernels::MIXCCL_GPU_NS {

#if MIXCCL_GPU_DEVICE_CODE

// Index of this thread in the whole grid, and the number of threads of the grid (1-D launches only).
MIXCCL_DEVICE_INLINE size_t gpuThreadIndex() { return size_t(blockIdx.x) * blockDim.x + threadIdx.x; }
MIXCCL_DEVICE_INLINE size_t gpuThreadCount() { return size_t(gridDim.x) * blockDim.x; }

MIXCCL_DEVICE_INLINE uint32_t floatBits(float f) { return __float_as_uint(f); }
MIXCCL_DEVICE_INLINE float bitsFloat(uint32_t u) { return __uint_as_float(u); }
MIXCCL_DEVICE_INLINE uint64_t doubleBits(double d) { return static_cast<uint64_t>(__double_as_longlong(d)); }
MIXCCL_DEVICE_INLINE double bitsDouble(uint64_t u) { return __longlong_as_double(static_cast<long long>(u)); }

// A pack P (a 16-byte aligned struct) read or written with one vector instruction.
template <typename P>
MIXCCL_DEVICE_INLINE P loadPack(const P* p) {
  return *p;
}
template <typename P>
MIXCCL_DEVICE_INLINE void storePack(P* p, const P& v) {
  *p = v;
}

// loadPack for data that another kernel running now wrote (after a flag said so): read from the device's shared
// cache level or memory, never from a multiprocessor's L1, which may hold a line read before the writer's store.
#if defined(__CUDACC__)
template <typename P>
MIXCCL_DEVICE_INLINE P loadPackFresh(const P* p) {
  static_assert(sizeof(P) == sizeof(int4), "a pack is 16 bytes");
  const int4 v = __ldcg(reinterpret_cast<const int4*>(p));
  P out;
  memcpy(&out, &v, sizeof(P));
  return out;
}
#else
template <typename P>
MIXCCL_DEVICE_INLINE P loadPackFresh(const P* p) {
  static_assert(sizeof(P) == 2 * sizeof(uint64_t), "a pack is 16 bytes");
  const volatile uint64_t* q = reinterpret_cast<const volatile uint64_t*>(p);
  const uint64_t v[2] = {q[0], q[1]};
  P out;
  memcpy(&out, v, sizeof(P));
  return out;
}
#endif

// kernel<<<blocks, threads, 0, stream>>>(args...): the same chevrons for nvcc and hipcc.
#define MIXCCL_GPU_LAUNCH(kernel, blocks, threads, stream, ...) \
  kernel<<<(blocks), (threads), 0, static_cast<mixcclGpuStream_t>(stream)>>>(__VA_ARGS__)

#if defined(__CUDACC__)
inline int gpuLastError() { return static_cast<int>(cudaGetLastError()); }
// Loads `kernel` into the current device's context now (asking for its attributes does; see preloadKernels).
template <typename Kernel>
int gpuPreload(Kernel kernel) {
  cudaFuncAttributes attributes;
  return static_cast<int>(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(kernel)));
}
// Lets other warps (and the memory system) run while a thread polls.
MIXCCL_DEVICE_INLINE void gpuPause() { __nanosleep(256); }
// The runtime calls behind gpuDeviceBlocks (below): 0 or the runtime's error code.
inline int gpuCurrentDevice(int* device) { return static_cast<int>(cudaGetDevice(device)); }
inline int gpuProcessors(int device, int* processors) {
  return static_cast<int>(cudaDeviceGetAttribute(processors, cudaDevAttrMultiProcessorCount, device));
}
template <typename Kernel>
int gpuBlocksPerProcessor(Kernel kernel, unsigned threads, int* blocks) {
  return static_cast<int>(cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, kernel, int(threads), 0));
}
#else
inline int gpuLastError() { return static_cast<int>(hipGetLastError()); }
template <typename Kernel>
int gpuPreload(Kernel kernel) {
  hipFuncAttributes attributes;
  return static_cast<int>(hipFuncGetAttributes(&attributes, reinterpret_cast<const void*>(kernel)));
}
MIXCCL_DEVICE_INLINE void gpuPause() { __builtin_amdgcn_s_sleep(2); }
inline int gpuCurrentDevice(int* device) { return static_cast<int>(hipGetDevice(device)); }
inline int gpuProcessors(int device, int* processors) {
  return static_cast<int>(hipDeviceGetAttribute(processors, hipDeviceAttributeMultiprocessorCount, device));
}
template <typename Kernel>
int gpuBlocksPerProcessor(Kernel kernel, unsigned threads, int* blocks) {
  return static_cast<int>(hipOccupancyMaxActiveBlocksPerMultiprocessor(blocks, kernel, int(threads), 0));
}
#endif

// The current device's multiprocessors, and how many blocks of `threads` threads of `kernel` one of them holds at
// once. Returns the runtime's error code (0: success). The answer is kept per thread for the last kernel, device and
// block size asked about, so a launcher can ask at every launch.
template <typename Kernel>
int gpuDeviceBlocks(Kernel kernel, unsigned threads, int* processors, int* perProcessor) {
  struct Known {
    Kernel kernel = nullptr;
    int device = -1;
    unsigned threads = 0;
    int processors = 0, perProcessor = 0;
  };
  static thread_local Known known;
  Known now;
  now.kernel = kernel;
  now.threads = threads;
  int rc = gpuCurrentDevice(&now.device);
  if (rc == 0 && (known.kernel != kernel || known.device != now.device || known.threads != threads)) {
    rc = gpuProcessors(now.device, &now.processors);
    if (rc == 0) rc = gpuBlocksPerProcessor(kernel, threads, &now.perProcessor);
    if (rc == 0) known = now;
  }
  *processors = known.processors;
  *perProcessor = known.perProcessor;
  return rc;
}


// Blocks, for kernels that cooperate within a block (launched with several threads per block) and across the grid
// (all blocks resident at once). In the host build such a kernel is launched as one block of one thread.
#define MIXCCL_BLOCK_SHARED __shared__
MIXCCL_DEVICE_INLINE bool gpuIsBlockLeader() { return threadIdx.x == 0; }
MIXCCL_DEVICE_INLINE unsigned gpuThreadInBlock() { return threadIdx.x; }
MIXCCL_DEVICE_INLINE unsigned gpuBlockThreads() { return blockDim.x; }
MIXCCL_DEVICE_INLINE unsigned gpuBlockIndex() { return blockIdx.x; }
MIXCCL_DEVICE_INLINE unsigned gpuBlockCount() { return gridDim.x; }
MIXCCL_DEVICE_INLINE void gpuBlockSync() { __syncthreads(); }
// Orders this thread's memory operations before and after it for every observer (the host included).
MIXCCL_DEVICE_INLINE void gpuFenceSystem() { __threadfence_system(); }
// Adds v to *p (device memory) and returns the value before.
MIXCCL_DEVICE_INLINE uint64_t gpuAtomicAdd64(uint64_t* p, uint64_t v) {
  return atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
MIXCCL_DEVICE_INLINE uint64_t gpuLoadVolatile64(const uint64_t* p) {
  return *static_cast<const volatile uint64_t*>(p);
}

// A fresh read of a word that the host (or another device) writes: never cached in a register or L1.
MIXCCL_DEVICE_INLINE uint32_t gpuLoadVolatile(const uint32_t* p) { return *static_cast<const volatile uint32_t*>(p); }
// A store that other devices and the host see after everything this thread wrote before it.
MIXCCL_DEVICE_INLINE void gpuStoreVolatile(uint32_t* p, uint32_t v) {
  __threadfence_system();
  *static_cast<volatile uint32_t*>(p) = v;
}
// A fresh read of an element that another kernel running now wrote (after a flag said so): never from L1.
template <typename T>
MIXCCL_DEVICE_INLINE T gpuLoadFresh(const T* p) {
  return *static_cast<const volatile T*>(p);
}

#else  // host

namespace detail {
// The coordinates of the thread the host emulation is running (one launch at a time per OS thread).
struct HostGrid {
  size_t thread = 0;
  size_t count = 1;
};
inline thread_local HostGrid hostGrid;
}  // namespace detail

inline size_t gpuThreadIndex() { return detail::hostGrid.thread; }
inline size_t gpuThreadCount() { return detail::hostGrid.count; }

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint64_t doubleBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}
inline double bitsDouble(uint64_t u) {
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

template <typename P>
inline P loadPack(const P* p) {
  P v;
  std::memcpy(&v, p, sizeof(P));
  return v;
}
template <typename P>
inline void storePack(P* p, const P& v) {
  std::memcpy(p, &v, sizeof(P));
}
template <typename P>
inline P loadPackFresh(const P* p) {
  return loadPack(p);  // ordered after the flag's acquire load
}

// Runs every thread of a blocks x threads grid, in order, on the calling thread.
template <typename Kernel, typename... Args>
void hostLaunch(unsigned blocks, unsigned threads, Kernel kernel, Args... args) {
  detail::hostGrid.count = size_t(blocks) * threads;
  for (size_t t = 0; t < detail::hostGrid.count; ++t) {
    detail::hostGrid.thread = t;
    kernel(args...);
  }
  detail::hostGrid = detail::HostGrid{};
}

#define MIXCCL_GPU_LAUNCH(kernel, blocks, threads, stream, ...) \
  ((void)(stream), ::mixccl::kernels::host::hostLaunch((blocks), (threads), kernel, __VA_ARGS__))

inline int gpuLastError() { return 0; }
template <typename Kernel>
int gpuPreload(Kernel) {
  return 0;
}

inline void gpuPause() { std::this_thread::yield(); }
// The host build runs a cooperating kernel as one block of one thread.
template <typename Kernel>
int gpuDeviceBlocks(Kernel, unsigned, int* processors, int* perProcessor) {
  *processors = 1;
  *perProcessor = 1;
  return 0;
}
#define MIXCCL_BLOCK_SHARED
inline bool gpuIsBlockLeader() { return true; }
inline unsigned gpuThreadInBlock() { return 0; }
inline unsigned gpuBlockThreads() { return 1; }
inline unsigned gpuBlockIndex() { return 0; }
inline unsigned gpuBlockCount() { return 1; }
inline void gpuBlockSync() {}
inline void gpuFenceSystem() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline uint64_t gpuAtomicAdd64(uint64_t* p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
inline uint64_t gpuLoadVolatile64(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline uint32_t gpuLoadVolatile(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void gpuStoreVolatile(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
template <typename T>
inline T gpuLoadFresh(const T* p) {
  return *p;  // ordered after the flag's acquire load
}

#endif

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

// The test-only kernel of whole_sm_kernel.h.
#include <cuda_runtime.h>

#include "gpu/whole_sm_kernel.h"

namespace mixccl::test {
namespace {

__global__ void wholeSmKernel(unsigned* ran, unsigned holdUs) {
  extern __shared__ unsigned char held[];
  held[threadIdx.x] = 1;
  __syncthreads();
  if (threadIdx.x != 0) return;
  unsigned long long start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < 1000ull * holdUs);
  atomicAdd(ran, unsigned(held[0]));
}

bool failed(cudaError_t rc, const char* what, std::string* why) {
  if (rc == cudaSuccess) return false;
  *why = std::string(what) + " gave " + cudaGetErrorName(rc);
  return true;
}

// Lets the kernel's blocks take all the shared memory one block may opt into (*bytes). The first such call also
// loads the kernel's module, which under lazy loading may wait for the kernels already running on the device.
bool prepare(int* bytes, std::string* why) {
  int device = 0;
  return !(failed(cudaGetDevice(&device), "cudaGetDevice", why) ||
           failed(cudaDeviceGetAttribute(bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                  "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)", why) ||
           failed(cudaFuncSetAttribute(wholeSmKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, *bytes),
                  "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)", why));
}

}  // namespace

int wholeSmMultiprocessors(std::string* why) {
  int device = 0, processors = 0, bytes = 0;
  // Prepared here, before a test leaves another kernel spinning: then the launch needs no module load.
  if (!prepare(&bytes, why) || failed(cudaGetDevice(&device), "cudaGetDevice", why) ||
      failed(cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute",
             why)) {
    return 0;
  }
  return processors;
}

bool launchWholeSmKernel(void* stream, int blocks, unsigned holdUs, unsigned* ran, std::string* why) {
  int bytes = 0;
  if (!prepare(&bytes, why)) return false;
  wholeSmKernel<<<blocks, 256, size_t(bytes), static_cast<cudaStream_t>(stream)>>>(ran, holdUs);
  return !failed(cudaGetLastError(), "launching the whole-multiprocessor kernel", why);
}

}  // namespace mixccl::test

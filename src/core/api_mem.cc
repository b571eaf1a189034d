// C API: memory for buffers. mixcclMemAlloc hands out device memory of the current device where a GPU backend is
// usable (as NCCL does), else page-aligned host memory (what ranks on host memory use); the pointers it returned
// are remembered, with the backend that made them, so that mixcclMemFree frees them alike and refuses others.
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "core/status.h"
#include "device/gpu_backend.h"

using namespace mixccl;

namespace {

std::mutex gMutex;
// Block -> the GPU backend that allocated it (nullptr: host memory).
std::unordered_map<void*, GpuBackend*>& liveBlocks() {
  static auto* blocks = new std::unordered_map<void*, GpuBackend*>();  // never destroyed: usable until exit
  return *blocks;
}

// The GPU backend whose device is current on this thread, or nullptr.
GpuBackend* currentGpu() {
  for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
    GpuBackend* g = gpuBackend(t);
    int device = -1;
    if (g != nullptr && g->currentDevice(&device) == mixcclSuccess) return g;
  }
  return nullptr;
}

}  // namespace

extern "C" {

mixcclResult_t mixcclMemAlloc(void** ptr, size_t size) {
  clearLastError();
  if (ptr == nullptr) return fail(mixcclInvalidArgument, "mixcclMemAlloc: ptr (output pointer) is NULL");
  if (size == 0) return fail(mixcclInvalidArgument, "mixcclMemAlloc: size is 0");
  void* block = nullptr;
  GpuBackend* gpu = currentGpu();
  if (gpu != nullptr) {
    MIXCCL_TRY(gpu->allocDevice(size, &block));
  } else {
    const long page = sysconf(_SC_PAGESIZE);
    int err = posix_memalign(&block, page > 0 ? static_cast<size_t>(page) : 4096, size);
    if (err != 0) return failf(mixcclSystemError, "mixcclMemAlloc: cannot allocate %zu bytes: %s", size,
                               errnoString(err).c_str());
  }
  {
    std::lock_guard<std::mutex> lock(gMutex);
    liveBlocks()[block] = gpu;
  }
  *ptr = block;
  return mixcclSuccess;
}

mixcclResult_t mixcclMemFree(void* ptr) {
  clearLastError();
  if (ptr == nullptr) return fail(mixcclInvalidArgument, "mixcclMemFree: ptr is NULL");
  GpuBackend* gpu = nullptr;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = liveBlocks().find(ptr);
    if (it == liveBlocks().end()) {
      return fail(mixcclInvalidArgument, "mixcclMemFree: ptr was not returned by mixcclMemAlloc (or freed already)");
    }
    gpu = it->second;
    liveBlocks().erase(it);
  }
  if (gpu != nullptr) return gpu->freeDevice(ptr);
  free(ptr);
  return mixcclSuccess;
}

}  // extern "C"

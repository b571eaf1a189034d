// C API: memory for buffers. This build has no GPU backend, so mixcclMemAlloc hands out page-aligned host memory
// (what ranks on host memory use); the pointers it returned are remembered so that mixcclMemFree refuses others.
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "core/status.h"

using namespace mixccl;

namespace {

std::mutex gMutex;
std::unordered_set<void*>& liveBlocks() {
  static auto* blocks = new std::unordered_set<void*>();  // never destroyed: usable until the process ends
  return *blocks;
}

}  // namespace

extern "C" {

mixcclResult_t mixcclMemAlloc(void** ptr, size_t size) {
  clearLastError();
  if (ptr == nullptr) return fail(mixcclInvalidArgument, "mixcclMemAlloc: ptr (output pointer) is NULL");
  if (size == 0) return fail(mixcclInvalidArgument, "mixcclMemAlloc: size is 0");
  const long page = sysconf(_SC_PAGESIZE);
  void* block = nullptr;
  int err = posix_memalign(&block, page > 0 ? static_cast<size_t>(page) : 4096, size);
  if (err != 0) return failf(mixcclSystemError, "mixcclMemAlloc: cannot allocate %zu bytes: %s", size,
                             errnoString(err).c_str());
  {
    std::lock_guard<std::mutex> lock(gMutex);
    liveBlocks().insert(block);
  }
  *ptr = block;
  return mixcclSuccess;
}

mixcclResult_t mixcclMemFree(void* ptr) {
  clearLastError();
  if (ptr == nullptr) return fail(mixcclInvalidArgument, "mixcclMemFree: ptr is NULL");
  {
    std::lock_guard<std::mutex> lock(gMutex);
    if (liveBlocks().erase(ptr) == 0) {
      return fail(mixcclInvalidArgument, "mixcclMemFree: ptr was not returned by mixcclMemAlloc (or freed already)");
    }
  }
  free(ptr);
  return mixcclSuccess;
}

}  // extern "C"

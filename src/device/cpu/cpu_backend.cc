#include "device/cpu/cpu_backend.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "device/cpu/cpu_copy.h"
#include "device/cpu/cpu_reduce.h"

namespace mixccl {

void CpuBackend::reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) {
  cpuReduce(dst, a, b, count, spec);
}

void CpuBackend::postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) {
  cpuPostOp(dst, src, count, spec);
}

void CpuBackend::copy(void* dst, const void* src, size_t bytes) {
  if (dst != src && bytes != 0) cpuCopy(dst, src, bytes);
}

Result CpuBackend::allocScratch(size_t bytes, void** out) {
  void* ptr = nullptr;
  // posix_memalign, not aligned_alloc: no "size is a multiple of the alignment" rule, and it reports errno.
  int err = posix_memalign(&ptr, kScratchAlignment, bytes == 0 ? 1 : bytes);
  if (err != 0) {
    return failf(mixcclSystemError, "cpu backend: cannot allocate %zu bytes of scratch memory: %s", bytes,
                 errnoString(err).c_str());
  }
  *out = ptr;
  return mixcclSuccess;
}

void CpuBackend::freeScratch(void* ptr) { std::free(ptr); }

DeviceBackend& cpuBackend() {
  // Never destroyed: other static objects may still use it while the process exits.
  static CpuBackend* const kBackend = new CpuBackend();
  return *kBackend;
}

}  // namespace mixccl

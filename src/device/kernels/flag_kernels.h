#pragma once
// Kernels that order streams with flags: a single thread polls a flag word that the host's proxy thread or a
// peer's stream advances (GpuBackend::streamWaitFlag), or writes one (streamWriteFlag). Compiled by each build of the kernel source (gpu_portability.h).
#include <cstdint>

#include "device/kernels/gpu_portability.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

// Returns once *flag is at or past `value` in wrap-around order. Launched with one block of one thread.
MIXCCL_KERNEL waitFlagKernel(const uint32_t* flag, uint32_t value) {
  if (gpuThreadIndex() != 0) return;
  while (static_cast<int32_t>(gpuLoadVolatile(flag) - value) < 0) gpuPause();
}

// Sets *flag = value once the stream's earlier work is done, visible to other devices and the host.
MIXCCL_KERNEL writeFlagKernel(uint32_t* flag, uint32_t value) {
  if (gpuThreadIndex() != 0) return;
  gpuStoreVolatile(flag, value);
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

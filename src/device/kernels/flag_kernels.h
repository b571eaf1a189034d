#pragma once
// Kernels that make a stream wait for the host: a single thread polls a flag word that the host's proxy thread
// advances (GpuBackend::streamWaitFlag). Compiled by each build of the kernel source (gpu_portability.h).
#include <cstdint>

#include "device/kernels/gpu_portability.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

// Returns once *flag is at or past `value` in wrap-around order. Launched with one block of one thread.
MIXCCL_KERNEL waitFlagKernel(const uint32_t* flag, uint32_t value) {
  if (gpuThreadIndex() != 0) return;
  while (static_cast<int32_t>(gpuLoadVolatile(flag) - value) < 0) gpuPause();
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

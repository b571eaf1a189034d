#pragma once
// In-kernel waits on the flags that ranks of one process write for each other (the fused kernels, fused_args.h).
#include <cstdint>

#include "device/kernels/gpu_portability.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

// Returns once flags[r] is at or past `seq` (wrap-around order) for every r < n that this thread polls: r = first,
// first + stride, ... (a block's threads split the flags among themselves). A thread that saw a flag then fences,
// so that what its block reads after the next gpuBlockSync() is ordered after the flags.
MIXCCL_DEVICE_INLINE void waitFlags(uint32_t* const* flags, int n, uint32_t seq, unsigned first, unsigned stride) {
  for (unsigned r = first; r < unsigned(n); r += stride) {
    while (static_cast<int32_t>(gpuLoadVolatile(flags[r]) - seq) < 0) gpuPause();
    gpuFenceSystem();
  }
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

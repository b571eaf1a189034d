#pragma once
// The GPU a rank of a device test uses: the emulated one (support/emulated_gpu.h) by default, so the GPU paths
// run everywhere; the real CUDA/HIP device when MIXCCL_TEST_REAL_GPU=1 (tests/gpu/run.sh sets it). Call it in the
// rank's process (after the fork), before mixccl sees any pointer.
#include <string>

#include "device/gpu_backend.h"

namespace mixccl::testing {

// What testGpu picks: the first usable GPU of either vendor (kAnyVendor), or one of the vendor named (kCuda, kHip).
constexpr MemoryType kAnyVendor = MemoryType::kHost;

// nullptr with *why when MIXCCL_TEST_REAL_GPU=1 and no GPU (of `vendor`) is usable. Emulated: the process's
// emulated GPU of that vendor (CUDA for kAnyVendor).
GpuBackend* testGpu(std::string* why, MemoryType vendor = kAnyVendor);

// True when the tests run on the emulation (delays and checks that only it can make hold).
bool testGpuIsEmulated();

}  // namespace mixccl::testing

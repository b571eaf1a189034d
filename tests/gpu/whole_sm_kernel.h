#pragma once
// A test-only CUDA kernel whose every block needs a whole multiprocessor: it asks for all the shared memory one
// block may opt into, so no other kernel's block can share its multiprocessor. It stands for the kernels an
// application may queue ahead of a collective (a large GEMM's blocks often need a whole multiprocessor), against
// which gpu_ipc's fused rounds keep a multiprocessor free (kernels/fused_direct_kernel.h). Built only with the CUDA
// backend (MIXCCL_TEST_WHOLE_SM_KERNEL is then defined); tests/gpu/gpu_backend_test.cc uses it.
#include <string>

namespace mixccl::test {

// The current device's multiprocessors; 0 with the reason in *why when the runtime cannot say. Also readies the
// kernel (its module loaded): call it before anything spins on the device that the kernel's first use could wait for.
int wholeSmMultiprocessors(std::string* why);

// Enqueues on `stream` (a cudaStream_t) `blocks` blocks, each holding a whole multiprocessor for about `holdUs`
// microseconds, then adding one to *ran (device memory). False with the runtime's reason in *why.
bool launchWholeSmKernel(void* stream, int blocks, unsigned holdUs, unsigned* ran, std::string* why);

}  // namespace mixccl::test

// The host build of the kernel source (mixccl::kernels::host, gpu_portability.h): what the kernel unit tests and
// the emulated GPU (emulated_gpu.h) run.
#include "device/kernels/gpu_kernels_impl.h"

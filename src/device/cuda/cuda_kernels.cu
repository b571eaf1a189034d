// The kernels of src/device/kernels/, built by nvcc for the CUDA backend (namespace mixccl::kernels::cuda).
#include "device/kernels/gpu_kernels_impl.h"

// The kernels of src/device/kernels/, built by hipcc for the HIP backend (namespace mixccl::kernels::hip).
#include "device/kernels/gpu_kernels_impl.h"

#pragma once
// Which GPU is which device index of a vendor runtime, found by loading the runtime library at run time (dlopen),
// so that a build without CUDA or HIP still names the indices on a machine that has the runtime.
//
// Contract: blocking; safe to call from several threads (the runtimes are thread-safe). The library stays
// loaded. Querying initialises the runtime in this process (CUDA: a process that forks children which use a
// GPU must not do it before forking).
#include <string>
#include <vector>

#include "topology/local_topology.h"

namespace mixccl {

// True when `vendor`'s runtime library (libcudart for NVIDIA, libamdhip64 for AMD) loaded and answered; then
// (*busIds)[i] is the normalised PCI bus id of runtime device i (possibly none, e.g. CUDA_VISIBLE_DEVICES="").
// False when the library is absent or its device count call fails (no driver): the indices are unknown.
bool runtimeGpuBusIds(GpuVendor vendor, std::vector<std::string>* busIds);

}  // namespace mixccl

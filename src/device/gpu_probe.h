#pragma once
// Internal: how gpuBackend() reaches each vendor's backend without naming a vendor API. Each vendor folder
// defines its probe twice: <vendor>_backend.cc (the real backend, built when the vendor's toolkit is found)
// and <vendor>_absent.cc (built otherwise: nullptr and "not built" as the reason). CMake picks one.
//
// Contract: probing happens once per process (the first call), is thread-safe, and the returned backend lives
// for the whole process. On nullptr, *reason (when given) says why, in words a user can act on.
#include <string>

namespace mixccl {

class GpuBackend;

GpuBackend* probeCudaBackend(std::string* reason);
GpuBackend* probeHipBackend(std::string* reason);

}  // namespace mixccl

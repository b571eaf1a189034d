#pragma once
// Memory copy for the data path (slot <-> user buffer).
//
// Why not memcpy: glibc copies mid-sized blocks (a few KiB up to the L2 size, i.e. exactly our pipeline chunks)
// with `rep movsb`, which on some processors (measured on this project's AMD EPYC VMs) runs at half the speed of
// a plain vector loop when the source was written by another core. This copy uses unrolled vector loads and
// stores (AVX2 where the processor has it) for large blocks and memcpy for small ones.
#include <cstddef>

namespace mixccl {

// memcpy semantics: dst and src must not overlap.
void cpuCopy(void* dst, const void* src, size_t bytes);

}  // namespace mixccl

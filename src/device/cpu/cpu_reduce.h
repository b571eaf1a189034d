#pragma once
// Element-wise reduction kernels of the CPU backend: the arithmetic of every collective on host memory.
//
// Contract: synchronous, thread-safe (no state besides the instruction set detected once), no allocation.
// Pointers are aligned to the element size (as C requires for the type; no wider alignment is needed) and
// `dst` may alias `a`, `b` or `src` exactly, never partially. An invalid dtype or op is an invariant violation
// (the engine validated it long before): it is logged and aborts.
//
// Semantics, per element i (see src/device/README.md for the formats):
//   reduce:  dst[i] = a[i] op b[i], then dst[i] /= divisor if spec.divisor > 1.
//   postOp:  dst[i] = src[i] / divisor if spec.divisor > 1, else a copy (nothing when dst == src).
// * Integers: sum and prod wrap modulo 2^bits (computed unsigned, so no signed overflow); the division
//   truncates toward zero as in C.
// * float and double are combined in their own type; half, bf16 and fp8 are widened to fp32, combined and
//   divided in fp32 and rounded back once per call (nearest even; fp8 saturates to its largest finite value).
// * max is `a > b ? a : b` and min is `a < b ? a : b` (the x86 maxps/minps rule): when either is NaN the
//   result is b, so a NaN in `a` is dropped and a NaN in `b` is kept; max(+0, -0) and min(+0, -0) give b.
//   This is deterministic, which is what matters: a reduced value is computed once and then copied.
#include <cstddef>
#include <cstdint>

#include "device/device_backend.h"

namespace mixccl {

void cpuReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec);
void cpuPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec);

// The instruction sets the kernels are built for. kAvx2 also uses F16C for half; it exists on x86-64 only.
enum class CpuIsa : uint8_t { kBaseline = 0, kAvx2 = 1 };

// The best set this CPU runs (detected once); what cpuReduce and cpuPostOp use.
CpuIsa cpuBestIsa();
bool cpuIsaSupported(CpuIsa isa);
const char* cpuIsaName(CpuIsa isa);

// The same kernels on an explicit instruction set (which must be supported), for tests and benchmarks.
void cpuReduceWithIsa(CpuIsa isa, void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec);
void cpuPostOpWithIsa(CpuIsa isa, void* dst, const void* src, size_t count, const ReduceSpec& spec);

}  // namespace mixccl

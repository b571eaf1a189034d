#pragma once
// Inputs for bitwise comparisons of reduction kernels (host emulation of the GPU kernels, GPU backends) with
// the CPU backend: every pair of a type's edge values (NaN with payloads, Inf, ±0, subnormals, extremes,
// rounding ties; every code for fp8), every 16-bit code against random partners, and random bit patterns.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mixccl.h"

namespace mixccl::test {

// Every reduction type and op, for the cartesian products of the reduction tests.
inline constexpr mixcclDataType_t kAllTypes[] = {mixcclInt8,    mixcclUint8,    mixcclInt32,      mixcclUint32,
                                                 mixcclInt64,   mixcclUint64,   mixcclFloat16,    mixcclFloat32,
                                                 mixcclFloat64, mixcclBfloat16, mixcclFloat8e4m3, mixcclFloat8e5m2};
inline constexpr mixcclRedOp_t kAllOps[] = {mixcclSum, mixcclProd, mixcclMax, mixcclMin};

// Appends `size` bytes of `bits` (the low ones) to `out`.
void appendElement(std::vector<uint8_t>& out, size_t size, uint64_t bits);

// Fills a and b (cleared first) with the same number of elements of dt.
void makeReduceInputs(mixcclDataType_t dt, std::vector<uint8_t>& a, std::vector<uint8_t>& b);

// Whether an element of dt (bits as stored) is a NaN; false for integers.
bool isNanElement(mixcclDataType_t dt, uint64_t bits);

// Index of the first element that differs, or -1.
long firstDifference(const std::vector<uint8_t>& x, const std::vector<uint8_t>& y, size_t size);

// Element i of v as bits, and as "0x..." for messages.
uint64_t elementBits(const std::vector<uint8_t>& v, size_t i, size_t size);
std::string hex(uint64_t v);

}  // namespace mixccl::test

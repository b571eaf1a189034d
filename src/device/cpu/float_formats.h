#pragma once
// Host-side conversions of the narrow floating formats to and from fp32. One layout on every vendor
// (DESIGN.md rule 2): IEEE binary16, bfloat16 (the upper half of an fp32), OCP FP8 E4M3 (bias 7, no
// infinities, S.1111.111 is NaN, max finite 448) and FP8 E5M2 (bias 15, IEEE-like with infinities).
//
// Rounding from fp32 is to nearest, ties to even. Overflow: half and bf16 round to infinity as IEEE does;
// fp8 saturates to the largest finite value of the format (as CUDA's __NV_SATFINITE conversions do). NaN stays
// NaN. All functions are pure, inline-able and branch-light so loops over them vectorise.
#include <cstdint>

namespace mixccl {

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t b);
uint16_t floatToBf16(float f);
float fp8e4m3ToFloat(uint8_t v);
uint8_t floatToFp8e4m3(float f);
float fp8e5m2ToFloat(uint8_t v);
uint8_t floatToFp8e5m2(float f);

}  // namespace mixccl

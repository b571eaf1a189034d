#pragma once
// The narrow floating formats (half, bf16, fp8 E4M3, fp8 E5M2) widened to fp32 and rounded back, in kernel
// code. The contract is that of src/device/cpu/float_formats.h, bit for bit (the unit test
// kernel_arith_test.cc checks every code and every rounding boundary against it): round to nearest, ties to
// even; half and bf16 overflow to Inf; fp8 saturates to its largest finite value (Inf too); NaN keeps its sign
// and top payload bits with the quiet bit set (fp8 NaN is 0x7f / 0xff).
//
// The method differs on purpose from the CPU's (which rounds with fp32 additions tuned for x86 vector units):
// rounding here is integer arithmetic on the fp32 bit pattern, and decoding a subnormal is one exact fp32
// multiplication of a normal result. Nothing reads or produces an fp32 subnormal, so the GPU's denormal mode
// cannot change a result.
#include "device/kernels/gpu_portability.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

// v >> s rounded to nearest, ties to even (1 <= s <= 31).
MIXCCL_DEVICE_INLINE uint32_t shiftRoundNearestEven(uint32_t v, uint32_t s) {
  uint32_t q = v >> s;
  uint32_t rem = v & ((1u << s) - 1u);
  uint32_t half = 1u << (s - 1u);
  return q + ((rem > half || (rem == half && (q & 1u) != 0)) ? 1u : 0u);
}

// Encodes |x| (fp32 bits `ax`, finite) into a format with kMan mantissa bits and exponent bias kBias. The caller
// keeps `ax` below the format's overflow threshold (or handles overflow itself).
template <int kMan, int kBias>
MIXCCL_DEVICE_INLINE uint32_t encodeMagnitude(uint32_t ax) {
  int exp = int(ax >> 23);
  uint32_t man = ax & 0x7fffffu;
  int target = exp - 127 + kBias;  // biased exponent in the narrow format
  if (target >= 1) {
    // Normal: exponent and mantissa side by side, so a mantissa carry correctly bumps the exponent.
    return shiftRoundNearestEven((uint32_t(target) << 23) | man, 23 - kMan);
  }
  // Subnormal in the narrow format: value / step = full * 2^-shift with step = 2^(1 - kBias - kMan).
  uint32_t full = exp != 0 ? (man | 0x800000u) : man;
  int effExp = exp != 0 ? exp : 1;
  int shift = 151 - effExp - kBias - kMan;
  if (shift > 25) return 0;                             // full < 2^24: below a quarter of the step, rounds to zero
  return shiftRoundNearestEven(full, uint32_t(shift));  // may give the smallest normal: the right encoding
}

// Decodes a finite magnitude field (exponent:mantissa, sign removed) of that format to fp32 bits.
template <int kMan, int kBias>
MIXCCL_DEVICE_INLINE uint32_t decodeMagnitude(uint32_t mag) {
  uint32_t exp = mag >> kMan;
  uint32_t man = mag & ((1u << kMan) - 1u);
  if (exp == 0) {
    // man * 2^(1 - kBias - kMan): both factors and the product are normal fp32 numbers (or zero), exact.
    constexpr uint32_t kStepBits = uint32_t(127 + 1 - kBias - kMan) << 23;
    return floatBits(float(man) * bitsFloat(kStepBits));
  }
  return ((exp + uint32_t(127 - kBias)) << 23) | (man << (23 - kMan));
}

// ---- IEEE binary16: 1.5.10, bias 15, largest finite 65504.
MIXCCL_DEVICE_INLINE float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t mag = h & 0x7fffu;
  if (mag >= 0x7c00u) {  // Inf, or NaN with the quiet bit set
    return bitsFloat(sign | 0x7f800000u | ((mag & 0x3ffu) << 13) | (mag > 0x7c00u ? 0x00400000u : 0u));
  }
  return bitsFloat(sign | decodeMagnitude<10, 15>(mag));
}

MIXCCL_DEVICE_INLINE uint16_t floatToHalf(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  uint32_t r;
  if (ax > 0x7f800000u) {
    r = 0x7e00u | ((ax >> 13) & 0x3ffu);  // NaN: quiet, top payload bits
  } else if (ax >= 0x477ff000u) {
    r = 0x7c00u;  // 65520 and above (Inf included) round to Inf
  } else {
    r = encodeMagnitude<10, 15>(ax);
  }
  return uint16_t(sign | r);
}

// ---- bfloat16: the upper half of an fp32.
MIXCCL_DEVICE_INLINE float bf16ToFloat(uint16_t b) { return bitsFloat(uint32_t(b) << 16); }

MIXCCL_DEVICE_INLINE uint16_t floatToBf16(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return uint16_t((x >> 16) | 0x0040u);  // NaN: quiet, sign and top payload kept
  return uint16_t(sign | shiftRoundNearestEven(ax, 16));       // the largest finite values carry into Inf
}

// ---- OCP FP8 E4M3: 1.4.3, bias 7, no Inf, S.1111.111 is NaN, largest finite 448.
MIXCCL_DEVICE_INLINE float fp8e4m3ToFloat(uint8_t v) {
  uint32_t sign = uint32_t(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  if (mag == 0x7fu) return bitsFloat(sign | 0x7fc00000u);
  return bitsFloat(sign | decodeMagnitude<3, 7>(mag));
}

MIXCCL_DEVICE_INLINE uint8_t floatToFp8e4m3(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 24) & 0x80u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return uint8_t(sign | 0x7fu);
  constexpr uint32_t kMaxBits = 0x43e00000u;  // 448.0f: saturate (Inf too)
  return uint8_t(sign | encodeMagnitude<3, 7>(ax < kMaxBits ? ax : kMaxBits));
}

// ---- OCP FP8 E5M2: 1.5.2, bias 15, Inf 0x7c, NaN 0x7d..0x7f, largest finite 57344.
MIXCCL_DEVICE_INLINE float fp8e5m2ToFloat(uint8_t v) {
  uint32_t sign = uint32_t(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  if (mag >= 0x7cu) {
    return bitsFloat(sign | 0x7f800000u | ((mag & 0x3u) << 21) | (mag > 0x7cu ? 0x00400000u : 0u));
  }
  return bitsFloat(sign | decodeMagnitude<2, 15>(mag));
}

MIXCCL_DEVICE_INLINE uint8_t floatToFp8e5m2(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 24) & 0x80u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return uint8_t(sign | 0x7fu);
  constexpr uint32_t kMaxBits = 0x47600000u;  // 57344.0f: saturate (Inf too)
  return uint8_t(sign | encodeMagnitude<2, 15>(ax < kMaxBits ? ax : kMaxBits));
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

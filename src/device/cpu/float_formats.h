#pragma once
// Host-side conversions of the narrow floating formats to and from fp32. One layout on every vendor
// (DESIGN.md rule 2): IEEE binary16, bfloat16 (the upper half of an fp32), OCP FP8 E4M3 (bias 7, no
// infinities, S.1111.111 is NaN, max finite 448) and FP8 E5M2 (bias 15, IEEE-like with infinities).
//
// Rounding from fp32 is to nearest, ties to even. Overflow: half and bf16 round to infinity as IEEE does;
// fp8 saturates to the largest finite value of the format (as CUDA's __NV_SATFINITE conversions do), and so
// does an infinite input (E5M2 infinities are only produced by decoding, never by encoding). NaN stays NaN
// (sign kept, quiet bit set, the top payload bits kept where the format has room; fp8 NaN is 0x7f / 0xff).
// All functions are pure, inline and branch-free (selects only) so loops over them vectorise; they are
// correct whatever the FTZ/DAZ state of the FPU, since no step reads or produces an fp32 subnormal whose
// value matters. They assume the default rounding mode (to nearest) for the fp32 additions below.
//
// The recurring trick: an fp32 `magic` = 2^k has an ulp of 2^(k-23); adding a small |x| to it makes the FPU
// round |x| to a multiple of that ulp (ties to even) and leaves the multiple in the low mantissa bits, which is
// exactly the mantissa of a subnormal of the narrow format when 2^(k-23) is that format's subnormal step.
#include <bit>
#include <cstdint>

namespace mixccl {

namespace detail {

inline float bitsToFloat(uint32_t u) { return std::bit_cast<float>(u); }
inline uint32_t floatToBits(float f) { return std::bit_cast<uint32_t>(f); }

// cond ? a : b written with masks. Used where an operand comes from fp32 arithmetic: GCC (with the default
// -ftrapping-math) would sink that arithmetic into a branch of a plain ?: and then refuse to vectorise the loop;
// with masks both operands are needed unconditionally and the loop if-converts.
inline uint32_t selectBits(bool cond, uint32_t a, uint32_t b) {
  uint32_t mask = 0u - static_cast<uint32_t>(cond);
  return (a & mask) | (b & ~mask);
}

// Decodes a format with `kMan` mantissa bits and exponent bias `kBias` whose sign is already removed: `mag` is
// the exponent:mantissa field. Normal and subnormal values only (callers select Inf/NaN separately).
template <int kMan, int kBias>
inline uint32_t decodeFiniteMagnitude(uint32_t mag) {
  // Normal: move the fields into place and rebias the exponent.
  uint32_t normal = (mag << (23 - kMan)) + (uint32_t(127 - kBias) << 23);
  // Subnormal (exponent field 0): read the mantissa as 1.m * 2^(1-kBias), then subtract the implicit 2^(1-kBias).
  // Both operands are normal fp32 numbers and the difference is exact.
  constexpr uint32_t kMinNormalBits = uint32_t(127 + 1 - kBias) << 23;
  uint32_t sub = floatToBits(bitsToFloat((mag << (23 - kMan)) | kMinNormalBits) - bitsToFloat(kMinNormalBits));
  return selectBits((mag >> kMan) == 0, sub, normal);
}

// Encodes a finite |x| (bits `ax`, at most the format's largest finite value, so no overflow can happen) into
// a format with `kMan` mantissa bits and bias `kBias`, rounding to nearest even.
template <int kMan, int kBias>
inline uint32_t encodeFiniteMagnitude(uint32_t ax) {
  constexpr int kShift = 23 - kMan;
  // Normal: rebias, then add just under half an ulp, plus one when the kept lsb is odd (ties to even); a carry
  // out of the mantissa correctly bumps the exponent.
  uint32_t normal = (ax + (uint32_t(kBias - 127) << 23) + ((1u << (kShift - 1)) - 1) + ((ax >> kShift) & 1)) >> kShift;
  // Subnormal: the magic 2^k whose ulp is the subnormal step 2^(1 - kBias - kMan). The result may be the
  // smallest normal (mantissa overflow into the exponent field), which is the correct encoding.
  constexpr uint32_t kMagicBits = uint32_t(127 + 1 - kBias - kMan + 23) << 23;
  uint32_t sub = floatToBits(bitsToFloat(ax) + bitsToFloat(kMagicBits)) - kMagicBits;
  constexpr uint32_t kMinNormalBits = uint32_t(127 + 1 - kBias) << 23;
  return selectBits(ax < kMinNormalBits, sub, normal);
}

}  // namespace detail

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Max finite 65504.
inline float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t mag = h & 0x7fffu;
  uint32_t finite = detail::decodeFiniteMagnitude<10, 15>(mag);
  uint32_t special = 0x7f800000u | (mag & 0x3ffu) << 13 | (mag > 0x7c00u ? 0x00400000u : 0u);  // Inf / quiet NaN
  return detail::bitsToFloat(sign | detail::selectBits(mag >= 0x7c00u, special, finite));
}

inline uint16_t floatToHalf(float f) {
  uint32_t x = detail::floatToBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  // 65520 = 65504 + half an ulp: from there on, round to nearest even gives infinity.
  uint32_t finite = detail::encodeFiniteMagnitude<10, 15>(ax);
  uint32_t r = detail::selectBits(ax >= 0x477ff000u, 0x7c00u, finite);
  r = detail::selectBits(ax > 0x7f800000u, 0x7e00u | ((ax >> 13) & 0x3ffu), r);
  return uint16_t(sign | r);
}

// bfloat16: the upper 16 bits of an fp32 (8 exponent bits, 7 mantissa bits).
inline float bf16ToFloat(uint16_t b) { return detail::bitsToFloat(uint32_t(b) << 16); }

inline uint16_t floatToBf16(float f) {
  uint32_t x = detail::floatToBits(f);
  // Round to nearest even on bit 16; overflow of the largest finite values carries into infinity, as IEEE says.
  uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  uint32_t nan = (x >> 16) | 0x0040u;
  return uint16_t((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

// OCP FP8 E4M3: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN; max 448.
inline float fp8e4m3ToFloat(uint8_t v) {
  uint32_t sign = uint32_t(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  uint32_t finite = detail::decodeFiniteMagnitude<3, 7>(mag);
  return detail::bitsToFloat(sign | detail::selectBits(mag == 0x7fu, 0x7fc00000u, finite));
}

inline uint8_t floatToFp8e4m3(float f) {
  uint32_t x = detail::floatToBits(f);
  uint32_t sign = (x >> 24) & 0x80u;
  uint32_t ax = x & 0x7fffffffu;
  constexpr uint32_t kMaxBits = 0x43e00000u;  // 448.0f
  uint32_t r = detail::encodeFiniteMagnitude<3, 7>(ax < kMaxBits ? ax : kMaxBits);  // satfinite (Inf too)
  return uint8_t(sign | detail::selectBits(ax > 0x7f800000u, 0x7fu, r));
}

// OCP FP8 E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-like (Inf 0x7c, NaN 0x7d..0x7f); max 57344.
inline float fp8e5m2ToFloat(uint8_t v) {
  uint32_t sign = uint32_t(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  uint32_t finite = detail::decodeFiniteMagnitude<2, 15>(mag);
  uint32_t special = 0x7f800000u | (mag & 0x3u) << 21 | (mag > 0x7cu ? 0x00400000u : 0u);  // Inf / quiet NaN
  return detail::bitsToFloat(sign | detail::selectBits(mag >= 0x7cu, special, finite));
}

inline uint8_t floatToFp8e5m2(float f) {
  uint32_t x = detail::floatToBits(f);
  uint32_t sign = (x >> 24) & 0x80u;
  uint32_t ax = x & 0x7fffffffu;
  constexpr uint32_t kMaxBits = 0x47600000u;  // 57344.0f
  uint32_t r = detail::encodeFiniteMagnitude<2, 15>(ax < kMaxBits ? ax : kMaxBits);  // satfinite (Inf too)
  return uint8_t(sign | detail::selectBits(ax > 0x7f800000u, 0x7fu, r));
}

}  // namespace mixccl

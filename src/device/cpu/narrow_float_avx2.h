#pragma once
// AVX2 + F16C codecs of the narrow float formats: 16 stored elements <-> two __m256 of fp32, `lo` and `hi`, in
// an order of the codec's choosing that its store() undoes (element-wise arithmetic does not care). Private to cpu_reduce.cc (x86-64 only); each agrees bit for bit with the scalar codec of
// float_formats.h on every non-NaN value, and keeps NaN a NaN of the same sign (checked by cpu_reduce_test, and
// for the fp32 -> narrow direction over all 2^32 inputs when these were written).
//
// Half uses F16C directly. FP8 goes through half, whose grid contains both FP8 grids:
// * E5M2 is the upper byte of a half (same bias), and E4M3 becomes a half when shifted by 7 with the value
//   scaled by 2^-8 (bias 7 vs 15): decoding is a shift, vcvtph2ps, and (E4M3) a multiply by 256.
// * Encoding rounds twice without the double-rounding error: fp32 -> half rounding to ODD (truncate, then set
//   the last bit if anything was cut off), then half -> fp8 to nearest even in integer arithmetic. Rounding to
//   odd at 2 or more extra bits followed by rounding to nearest even equals rounding to nearest even directly
//   (Boldo & Melquiond); half keeps 7 (E4M3) or 8 (E5M2) more bits than FP8, in the subnormal range too.
//   Saturation is a min() on the FP8 code, which also catches what truncation clamped to the half maximum.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstdint>

#define MIXCCL_AVX2 __attribute__((target("avx2,f16c"), always_inline)) inline

namespace mixccl::avx2 {

// ---- Helpers.

// 8 fp32 -> 8 half bit patterns rounded to odd.
MIXCCL_AVX2 __m128i toHalfRoundToOdd(__m256 x) {
  __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256i inexact = _mm256_castps_si256(_mm256_cmp_ps(_mm256_cvtph_ps(h), x, _CMP_NEQ_UQ));
  __m128i inexact16 = _mm_packs_epi32(_mm256_castsi256_si128(inexact), _mm256_extracti128_si256(inexact, 1));
  return _mm_or_si128(h, _mm_and_si128(inexact16, _mm_set1_epi16(1)));
}

// 16 half bit patterns (rounded to odd) -> 16 FP8 codes in 16-bit lanes: drop kDrop mantissa bits to nearest
// even, saturate at kMaxCode, NaN -> 0x7f, sign on top.
template <int kDrop, int kMaxCode>
MIXCCL_AVX2 __m128i halfToFp8(__m256i h) {
  __m256i sign = _mm256_srli_epi16(_mm256_and_si256(h, _mm256_set1_epi16(int16_t(0x8000))), 8);
  __m256i mag = _mm256_and_si256(h, _mm256_set1_epi16(0x7fff));
  __m256i odd = _mm256_and_si256(_mm256_srli_epi16(mag, kDrop), _mm256_set1_epi16(1));
  __m256i r = _mm256_add_epi16(mag, _mm256_add_epi16(_mm256_set1_epi16((1 << (kDrop - 1)) - 1), odd));
  r = _mm256_min_epu16(_mm256_srli_epi16(r, kDrop), _mm256_set1_epi16(kMaxCode));  // no wrap: <= 0x7fff + 2^kDrop
  __m256i nan = _mm256_cmpgt_epi16(mag, _mm256_set1_epi16(0x7c00));
  r = _mm256_or_si256(r, _mm256_and_si256(nan, _mm256_set1_epi16(0x7f)));  // r <= kMaxCode < 0x7f
  r = _mm256_or_si256(r, sign);
  return _mm_packus_epi16(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

MIXCCL_AVX2 __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
MIXCCL_AVX2 void store16(void* p, __m128i v) { _mm_storeu_si128(static_cast<__m128i*>(p), v); }

// ---- Codecs: load(p, lo, hi) reads 16 elements, store(p, lo, hi) writes 16.

struct HalfVec {
  static MIXCCL_AVX2 void load(const uint16_t* p, __m256& lo, __m256& hi) {
    lo = _mm256_cvtph_ps(load16(p));
    hi = _mm256_cvtph_ps(load16(p + 8));
  }
  static MIXCCL_AVX2 void store(uint16_t* p, __m256 lo, __m256 hi) {
    store16(p, _mm256_cvtps_ph(lo, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    store16(p + 8, _mm256_cvtps_ph(hi, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

// bf16 is the upper half of an fp32: interleaving with zeros widens 16 elements in two instructions. The
// interleave works per 128-bit lane, so lo holds elements 0-3 and 8-11 and hi 4-7 and 12-15; packing works per
// lane too and restores the order without a permute.
struct Bf16Vec {
  static MIXCCL_AVX2 void load(const uint16_t* p, __m256& lo, __m256& hi) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    lo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), v));
    hi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), v));
  }
  // As floatToBf16: nearest even on bit 16, NaN made quiet.
  static MIXCCL_AVX2 __m256i round(__m256 f) {
    __m256i x = _mm256_castps_si256(f);
    __m256i top = _mm256_srli_epi32(x, 16);
    __m256i odd = _mm256_and_si256(top, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(r, quiet, _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)));
  }
  static MIXCCL_AVX2 void store(uint16_t* p, __m256 lo, __m256 hi) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_packus_epi32(round(lo), round(hi)));
  }
};

struct Fp8e5m2Vec {
  static MIXCCL_AVX2 void load(const uint8_t* p, __m256& lo, __m256& hi) {
    __m128i v = load16(p);
    lo = _mm256_cvtph_ps(_mm_unpacklo_epi8(_mm_setzero_si128(), v));  // byte -> byte << 8 in 16 bits
    hi = _mm256_cvtph_ps(_mm_unpackhi_epi8(_mm_setzero_si128(), v));
  }
  static MIXCCL_AVX2 void store(uint8_t* p, __m256 lo, __m256 hi) {
    store16(p, halfToFp8<8, 0x7b>(_mm256_set_m128i(toHalfRoundToOdd(hi), toHalfRoundToOdd(lo))));
  }
};

struct Fp8e4m3Vec {
  static MIXCCL_AVX2 void load(const uint8_t* p, __m256& lo, __m256& hi) {
    __m256i v = _mm256_cvtepu8_epi16(load16(p));
    __m256i sign = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x80)), 8);
    __m256i mag = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7f)), 7);
    // S.1111.111 is NaN in E4M3 but 1.875 as a shifted half: make it a half NaN.
    __m256i nan = _mm256_cmpeq_epi16(mag, _mm256_set1_epi16(0x3f80));
    __m256i h = _mm256_or_si256(_mm256_or_si256(sign, mag), _mm256_and_si256(nan, _mm256_set1_epi16(0x7e00)));
    const __m256 k256 = _mm256_set1_ps(256.0f);
    lo = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), k256);
    hi = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), k256);
  }
  static MIXCCL_AVX2 void store(uint8_t* p, __m256 lo, __m256 hi) {
    // The 2^-8 scale is exact for every value that can round to a nonzero E4M3 value.
    const __m256 kScale = _mm256_set1_ps(1.0f / 256.0f);
    __m128i hLo = toHalfRoundToOdd(_mm256_mul_ps(lo, kScale));
    __m128i hHi = toHalfRoundToOdd(_mm256_mul_ps(hi, kScale));
    store16(p, halfToFp8<7, 0x7e>(_mm256_set_m128i(hHi, hLo)));
  }
};

}  // namespace mixccl::avx2

#undef MIXCCL_AVX2
#endif

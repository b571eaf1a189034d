// The narrow float conversions against a slow reference written here from the format definitions alone
// (ldexp of the fields; nearest value found by search over all codes), exhaustively where the format is small.
#include "device/cpu/float_formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace mixccl {
namespace {

// ---- The reference: a format described by its fields.

struct Format {
  const char* name;
  int bits;          // 16 or 8
  int manBits;       // mantissa (fraction) bits
  int bias;          // exponent bias
  bool ieeeSpecial;  // all-ones exponent is Inf (mantissa 0) / NaN; else only S.1111.111 is NaN (E4M3)
  bool satfinite;    // overflow and Inf saturate to the largest finite value
  uint32_t maxFiniteCode;
  float (*decode)(uint32_t);
  uint32_t (*encode)(float);
};

const Format kHalf = {"half", 16, 10, 15, true, false, 0x7bff, [](uint32_t c) { return halfToFloat(uint16_t(c)); },
                      [](float f) { return uint32_t(floatToHalf(f)); }};
const Format kBf16 = {"bf16", 16, 7, 127, true, false, 0x7f7f, [](uint32_t c) { return bf16ToFloat(uint16_t(c)); },
                      [](float f) { return uint32_t(floatToBf16(f)); }};
const Format kE4m3 = {"e4m3", 8, 3, 7, false, true, 0x7e, [](uint32_t c) { return fp8e4m3ToFloat(uint8_t(c)); },
                      [](float f) { return uint32_t(floatToFp8e4m3(f)); }};
const Format kE5m2 = {"e5m2", 8, 2, 15, true, true, 0x7b, [](uint32_t c) { return fp8e5m2ToFloat(uint8_t(c)); },
                      [](float f) { return uint32_t(floatToFp8e5m2(f)); }};

// Names the parameter in test output.
void PrintTo(const Format* f, std::ostream* os) { *os << f->name; }

uint32_t signBit(const Format& f) { return 1u << (f.bits - 1); }
uint32_t expField(const Format& f, uint32_t code) { return (code >> f.manBits) & ((1u << (f.bits - 1 - f.manBits)) - 1); }
uint32_t expAllOnes(const Format& f) { return (1u << (f.bits - 1 - f.manBits)) - 1; }
uint32_t manField(const Format& f, uint32_t code) { return code & ((1u << f.manBits) - 1); }

bool refIsNan(const Format& f, uint32_t code) {
  uint32_t mag = code & (signBit(f) - 1);
  if (f.ieeeSpecial) return expField(f, code) == expAllOnes(f) && manField(f, code) != 0;
  return mag == signBit(f) - 1;
}

// The value of a code, from the definition: (-1)^s * 2^(e - bias) * 1.m, or 2^(1 - bias) * 0.m when e == 0.
double refDecode(const Format& f, uint32_t code) {
  double sign = (code & signBit(f)) ? -1.0 : 1.0;
  uint32_t e = expField(f, code);
  uint32_t m = manField(f, code);
  if (refIsNan(f, code)) return std::numeric_limits<double>::quiet_NaN();
  if (f.ieeeSpecial && e == expAllOnes(f)) return sign * std::numeric_limits<double>::infinity();
  if (e == 0) return sign * std::ldexp(double(m), 1 - f.bias - f.manBits);
  return sign * std::ldexp(double(m + (1u << f.manBits)), int(e) - f.bias - f.manBits);
}

// Nearest code to x, ties to the code with an even last bit, overflow per the format's rule. NaN gives the
// canonical positive NaN (callers compare NaN-ness, not payloads).
uint32_t refEncode(const Format& f, float x) {
  if (std::isnan(x)) return f.ieeeSpecial ? (expAllOnes(f) << f.manBits) | 1u : signBit(f) - 1;
  uint32_t sign = std::signbit(x) ? signBit(f) : 0;
  double a = std::fabs(double(x));
  double maxFinite = refDecode(f, f.maxFiniteCode);
  if (a > maxFinite) {
    if (f.satfinite) return sign | f.maxFiniteCode;
    // IEEE: Inf from max + ulp/2 on (ties go to Inf, whose "mantissa" is even).
    double ulp = maxFinite - refDecode(f, f.maxFiniteCode - 1);
    return a >= maxFinite + ulp / 2 ? sign | (expAllOnes(f) << f.manBits) : sign | f.maxFiniteCode;
  }
  // Non-negative finite codes are ordered by value: binary search for the last code <= a.
  uint32_t lo = 0, hi = f.maxFiniteCode;
  while (lo < hi) {
    uint32_t mid = (lo + hi + 1) / 2;
    if (refDecode(f, mid) <= a) lo = mid; else hi = mid - 1;
  }
  double below = refDecode(f, lo);
  if (below == a || lo == f.maxFiniteCode) return sign | lo;
  double above = refDecode(f, lo + 1);
  double dLo = a - below, dHi = above - a;  // exact: few significant bits, close exponents
  if (dLo < dHi) return sign | lo;
  if (dHi < dLo) return sign | (lo + 1);
  return sign | ((lo & 1) ? lo + 1 : lo);
}

std::string hex(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

bool sameFloat(double want, float got) {
  if (std::isnan(want)) return std::isnan(got);
  return double(got) == want && std::signbit(double(got)) == std::signbit(want);
}

// Checks encode(x) against the reference; NaN results must be a NaN code of the same sign.
void expectEncodes(const Format& f, float x) {
  uint32_t got = f.encode(x);
  uint32_t want = refEncode(f, x);
  if (std::isnan(x)) {
    EXPECT_TRUE(refIsNan(f, got)) << f.name << " encode(NaN " << hex(std::bit_cast<uint32_t>(x)) << ") = " << hex(got);
    EXPECT_EQ(bool(got & signBit(f)), std::signbit(x)) << f.name << " NaN sign";
    return;
  }
  EXPECT_EQ(got, want) << f.name << " encode(" << x << " = " << hex(std::bit_cast<uint32_t>(x)) << ")";
}

class FloatFormatTest : public ::testing::TestWithParam<const Format*> {};

TEST_P(FloatFormatTest, DecodesEveryCodeAsTheDefinitionSays) {
  const Format& f = *GetParam();
  int wrong = 0;
  for (uint32_t c = 0; c < (1u << f.bits); ++c) {
    float got = f.decode(c);
    if (!sameFloat(refDecode(f, c), got) && ++wrong <= 10) {
      ADD_FAILURE() << f.name << " decode(" << hex(c) << ") = " << got << ", want " << refDecode(f, c);
    }
    if (refIsNan(f, c)) {
      EXPECT_EQ(std::signbit(got), bool(c & signBit(f))) << f.name << " NaN sign " << hex(c);
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST_P(FloatFormatTest, EveryCodeRoundTripsThroughFloat) {
  const Format& f = *GetParam();
  int wrong = 0;
  for (uint32_t c = 0; c < (1u << f.bits); ++c) {
    uint32_t back = f.encode(f.decode(c));
    uint32_t want = c;
    // A saturating format has no way back to Inf: E5M2's Inf comes back as the largest finite value.
    if (f.satfinite && std::isinf(refDecode(f, c))) want = (c & signBit(f)) | f.maxFiniteCode;
    bool ok = refIsNan(f, c) ? refIsNan(f, back) && (back & signBit(f)) == (c & signBit(f)) : back == want;
    if (!ok && ++wrong <= 10) ADD_FAILURE() << f.name << " " << hex(c) << " -> " << hex(back);
  }
  EXPECT_EQ(wrong, 0);
}

// Every value, every midpoint between neighbours (the ties), and the floats just beside them.
TEST_P(FloatFormatTest, RoundsToNearestEvenAtEveryBoundary) {
  const Format& f = *GetParam();
  for (uint32_t c = 0; c <= f.maxFiniteCode; ++c) {
    double v = refDecode(f, c);
    double next = c < f.maxFiniteCode ? refDecode(f, c + 1) : v + (v - refDecode(f, c - 1));
    float mid = float((v + next) / 2);
    ASSERT_EQ(double(mid), (v + next) / 2) << "midpoint must be exact in fp32";
    for (float x : {float(v), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      expectEncodes(f, x);
      expectEncodes(f, -x);
    }
    if (::testing::Test::HasFailure()) return;  // one boundary's messages are enough
  }
}

TEST_P(FloatFormatTest, EncodesRandomFloatsAndSpecialsLikeTheReference) {
  const Format& f = *GetParam();
  std::mt19937 rng(1234);
  for (int i = 0; i < 200000; ++i) expectEncodes(f, std::bit_cast<float>(uint32_t(rng())));
  const float kSpecial[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::min(), std::bit_cast<float>(0x7f800001u),  // signalling NaN
                            1.0f, 3.0f, 1e-30f, -1e30f};
  for (float x : kSpecial) expectEncodes(f, x);
}

#if defined(__x86_64__) || defined(__i386__)
// The conversions must not depend on flush-to-zero / denormals-are-zero (a framework may set them).
TEST_P(FloatFormatTest, IndependentOfFtzAndDaz) {
  const Format& f = *GetParam();
  unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
  std::vector<uint32_t> back;
  for (uint32_t c = 0; c < (1u << f.bits); ++c) back.push_back(f.encode(f.decode(c)));
  _mm_setcsr(saved);
  for (uint32_t c = 0; c < (1u << f.bits); ++c) {
    if (!refIsNan(f, c)) {
      ASSERT_EQ(back[c], f.encode(f.decode(c))) << f.name << " " << hex(c) << " differs under FTZ/DAZ";
    }
  }
}
#endif

INSTANTIATE_TEST_SUITE_P(Formats, FloatFormatTest, ::testing::Values(&kHalf, &kBf16, &kE4m3, &kE5m2),
                         [](const auto& info) { return std::string(info.param->name); });

// ---- Hand-checked values (documents the rules; independent of the reference above).

TEST(FloatFormats, HalfKnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.996f), 0x7bff);         // just below max + ulp/2
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);           // the tie rounds to Inf
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);    // tie, to even
  EXPECT_EQ(floatToHalf(1.0f + 0x3p-11f), 0x3c02);    // tie, to even (up)
  EXPECT_EQ(floatToHalf(0x1p-24f), 0x0001);           // smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);           // tie between 0 and it: to even (0)
  EXPECT_EQ(floatToHalf(0x1.8p-25f), 0x0001);
  EXPECT_EQ(floatToHalf(0x1.ffcp-15f), 0x0400);       // largest subnormal + ulp/2 (tie) goes to the smallest normal
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalf(NAN) & 0x7e00, 0x7e00);      // quiet NaN
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
}

TEST(FloatFormats, Bf16KnownValues) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, to even
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, to even (up)
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);  // above max + ulp/2: Inf
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7f800001u)) & 0x7fc0, 0x7fc0);  // signalling NaN made quiet
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0xff800001u)) & 0x8000, 0x8000);
  EXPECT_EQ(bf16ToFloat(0xc040), -3.0f);
}

TEST(FloatFormats, Fp8E4m3KnownValues) {
  EXPECT_EQ(floatToFp8e4m3(1.0f), 0x38);
  EXPECT_EQ(floatToFp8e4m3(448.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(464.0f), 0x7e);   // would round to 480 = S.1111.111 = NaN: saturates
  EXPECT_EQ(floatToFp8e4m3(1e9f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(INFINITY), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(floatToFp8e4m3(NAN), 0x7f);
  EXPECT_EQ(floatToFp8e4m3(-NAN), 0xff);
  EXPECT_EQ(floatToFp8e4m3(1.0625f), 0x38);  // tie between 1 and 1.125: to even
  EXPECT_EQ(floatToFp8e4m3(1.1875f), 0x3a);  // tie between 1.125 and 1.25: to even
  EXPECT_EQ(floatToFp8e4m3(0x1p-9f), 0x01);  // smallest subnormal
  EXPECT_EQ(floatToFp8e4m3(0x1p-10f), 0x00);
  EXPECT_EQ(floatToFp8e4m3(0x7.8p-9f), 0x08);  // tie between the largest subnormal and 2^-6: to even (normal)
  EXPECT_EQ(floatToFp8e4m3(-0.0f), 0x80);
  EXPECT_EQ(fp8e4m3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(fp8e4m3ToFloat(0x78), 256.0f);   // S.1111.000 is a number in E4M3, not Inf
  EXPECT_TRUE(std::isnan(fp8e4m3ToFloat(0xff)));
  EXPECT_EQ(fp8e4m3ToFloat(0x01), 0x1p-9f);
}

TEST(FloatFormats, Fp8E5m2KnownValues) {
  EXPECT_EQ(floatToFp8e5m2(1.0f), 0x3c);
  EXPECT_EQ(floatToFp8e5m2(57344.0f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(61440.0f), 0x7b);  // would round to Inf: saturates
  EXPECT_EQ(floatToFp8e5m2(INFINITY), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(-INFINITY), 0xfb);
  EXPECT_EQ(floatToFp8e5m2(NAN) & 0x7f, 0x7f);
  EXPECT_EQ(floatToFp8e5m2(1.125f), 0x3c);    // tie between 1 and 1.25: to even
  EXPECT_EQ(floatToFp8e5m2(1.375f), 0x3e);    // tie between 1.25 and 1.5: to even
  EXPECT_EQ(floatToFp8e5m2(0x1p-16f), 0x01);  // smallest subnormal
  EXPECT_EQ(floatToFp8e5m2(0x1p-17f), 0x00);
  EXPECT_TRUE(std::isinf(fp8e5m2ToFloat(0x7c)));
  EXPECT_TRUE(std::isnan(fp8e5m2ToFloat(0x7d)));
  EXPECT_EQ(fp8e5m2ToFloat(0x7b), 57344.0f);
  // E5M2 is the upper byte of a half: the same number with the low byte cleared.
  for (uint32_t c = 0; c < 256; ++c) {
    if (!std::isnan(fp8e5m2ToFloat(uint8_t(c)))) {
      EXPECT_EQ(fp8e5m2ToFloat(uint8_t(c)), halfToFloat(uint16_t(c << 8)));
    }
  }
}

}  // namespace
}  // namespace mixccl

// The CPU reduction kernels against a scalar reference, as a cartesian product:
// instruction set x dtype x op x length x divisor x aliasing, on pointers that are not vector-aligned, with
// guard bytes around the output. Inputs are random bit patterns (narrow floats: every code, NaN and Inf
// included; integers: the full range, so sums and products wrap).
#include "device/cpu/cpu_reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "device/cpu/cpu_backend.h"
#include "device/cpu/float_formats.h"
#include "support/reduce_inputs.h"

namespace mixccl {
namespace {

using test::kAllOps;
using test::kAllTypes;

constexpr size_t kLengths[] = {0, 1, 7, 31, 1000, 65537};
constexpr uint32_t kDivisors[] = {0, 1, 3, 8};
constexpr size_t kGuard = 64;          // bytes checked on each side of the output
constexpr uint8_t kGuardByte = 0xa5;

bool isNarrowFloat(mixcclDataType_t dt) {
  return dt == mixcclFloat16 || dt == mixcclBfloat16 || dt == mixcclFloat8e4m3 || dt == mixcclFloat8e5m2;
}

float narrowToFloat(mixcclDataType_t dt, const uint8_t* p) {
  uint16_t h;
  switch (dt) {
    case mixcclFloat16: std::memcpy(&h, p, 2); return halfToFloat(h);
    case mixcclBfloat16: std::memcpy(&h, p, 2); return bf16ToFloat(h);
    case mixcclFloat8e4m3: return fp8e4m3ToFloat(*p);
    default: return fp8e5m2ToFloat(*p);
  }
}

void floatToNarrow(mixcclDataType_t dt, float v, uint8_t* p) {
  uint16_t h;
  switch (dt) {
    case mixcclFloat16: h = floatToHalf(v); std::memcpy(p, &h, 2); break;
    case mixcclBfloat16: h = floatToBf16(v); std::memcpy(p, &h, 2); break;
    case mixcclFloat8e4m3: *p = floatToFp8e4m3(v); break;
    default: *p = floatToFp8e5m2(v); break;
  }
}

// ---- Scalar reference, one element at a time, written without the kernels' tricks.

template <typename F>
F refFloatOp(mixcclRedOp_t op, F a, F b) {
  switch (op) {
    case mixcclSum: return a + b;
    case mixcclProd: return a * b;
    case mixcclMax: return (std::isnan(a) || std::isnan(b)) ? b : (a > b ? a : b);  // documented: NaN -> b
    default: return (std::isnan(a) || std::isnan(b)) ? b : (a < b ? a : b);
  }
}

// Integers: the mathematical result reduced modulo 2^bits (through uint64, where wrapping is defined), and
// C's truncating division done in 64-bit signed/unsigned arithmetic.
template <typename T>
T refIntOp(mixcclRedOp_t op, T a, T b, uint32_t divisor) {
  uint64_t ua = uint64_t(a), ub = uint64_t(b);
  T r;
  switch (op) {
    case mixcclSum: r = T(ua + ub); break;
    case mixcclProd: r = T(ua * ub); break;
    case mixcclMax: r = a > b ? a : b; break;
    default: r = a < b ? a : b; break;
  }
  if (divisor > 1) {
    if constexpr (std::is_signed_v<T>) r = T(int64_t(r) / int64_t(divisor));
    else r = T(uint64_t(r) / uint64_t(divisor));
  }
  return r;
}

template <typename T>
void refTyped(mixcclRedOp_t op, const uint8_t* a, const uint8_t* b, uint8_t* out, uint32_t divisor) {
  T x, y, r;
  std::memcpy(&x, a, sizeof(T));
  std::memcpy(&y, b, sizeof(T));
  if constexpr (std::is_floating_point_v<T>) {
    r = refFloatOp(op, x, y);
    if (divisor > 1) r = r / T(divisor);
  } else {
    r = refIntOp(op, x, y, divisor);
  }
  std::memcpy(out, &r, sizeof(T));
}

// One element of dst = a op b (/ divisor); b == nullptr means the post-op alone (dst = a / divisor).
void refElement(const ReduceSpec& s, const uint8_t* a, const uint8_t* b, uint8_t* out) {
  if (isNarrowFloat(s.dtype)) {
    float v = narrowToFloat(s.dtype, a);
    if (b) v = refFloatOp(s.op, v, narrowToFloat(s.dtype, b));
    if (s.divisor > 1) v = v / float(s.divisor);
    floatToNarrow(s.dtype, v, out);
    return;
  }
  mixcclRedOp_t op = b ? s.op : mixcclMax;  // max(a, a) == a for the post-op alone
  if (!b) b = a;
  switch (s.dtype) {
    case mixcclInt8: refTyped<int8_t>(op, a, b, out, s.divisor); break;
    case mixcclUint8: refTyped<uint8_t>(op, a, b, out, s.divisor); break;
    case mixcclInt32: refTyped<int32_t>(op, a, b, out, s.divisor); break;
    case mixcclUint32: refTyped<uint32_t>(op, a, b, out, s.divisor); break;
    case mixcclInt64: refTyped<int64_t>(op, a, b, out, s.divisor); break;
    case mixcclUint64: refTyped<uint64_t>(op, a, b, out, s.divisor); break;
    case mixcclFloat32: refTyped<float>(op, a, b, out, s.divisor); break;
    case mixcclFloat64: refTyped<double>(op, a, b, out, s.divisor); break;
    default: FAIL() << "no reference for dtype " << s.dtype;
  }
}

bool elementIsNan(mixcclDataType_t dt, const uint8_t* p) {
  if (isNarrowFloat(dt)) return std::isnan(narrowToFloat(dt, p));
  if (dt == mixcclFloat32) { float f; std::memcpy(&f, p, 4); return std::isnan(f); }
  if (dt == mixcclFloat64) { double d; std::memcpy(&d, p, 8); return std::isnan(d); }
  return false;
}

// Equal bytes, or both NaN (which NaN payload survives an operation on two NaNs is not specified).
bool sameElement(mixcclDataType_t dt, const uint8_t* got, const uint8_t* want) {
  size_t n = dataTypeSize(dt);
  if (std::memcmp(got, want, n) == 0) return true;
  return elementIsNan(dt, got) && elementIsNan(dt, want);
}

// A buffer of `count` elements placed one element past a 64-byte boundary (so never vector-aligned), with
// guard bytes on both sides.
class Buffer {
 public:
  Buffer(mixcclDataType_t dt, size_t count) : elem_(dataTypeSize(dt)), count_(count) {
    storage_.assign(kGuard + 64 + (count + 1) * elem_ + kGuard, kGuardByte);
    uintptr_t base = reinterpret_cast<uintptr_t>(storage_.data()) + kGuard;
    offset_ = (64 - base % 64) % 64 + kGuard + elem_;
  }
  uint8_t* data() { return storage_.data() + offset_; }
  uint8_t* at(size_t i) { return data() + i * elem_; }
  size_t bytes() const { return count_ * elem_; }
  bool guardsIntact() const {
    for (size_t i = 0; i < offset_; ++i) if (storage_[i] != kGuardByte) return false;
    for (size_t i = offset_ + count_ * elem_; i < storage_.size(); ++i) if (storage_[i] != kGuardByte) return false;
    return true;
  }

 private:
  size_t elem_, count_, offset_ = 0;
  std::vector<uint8_t> storage_;
};

void fillRandom(Buffer& buf, std::mt19937_64& rng) {
  for (size_t i = 0; i < buf.bytes(); ++i) buf.data()[i] = uint8_t(rng());
}

// fp32/fp64 from random bits are mostly huge or tiny; use moderate values, with a few specials mixed in.
void fillFloats(mixcclDataType_t dt, Buffer& buf, size_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-1000.0, 1000.0);
  const double kSpecial[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-310, 1e38, -3.0};
  for (size_t i = 0; i < count; ++i) {
    double v = (i % 97 < 8) ? kSpecial[i % 97] : dist(rng);
    if (dt == mixcclFloat32) { float f = float(v); std::memcpy(buf.at(i), &f, 4); }
    else std::memcpy(buf.at(i), &v, 8);
  }
}

std::string describe(CpuIsa isa, const ReduceSpec& s, size_t count, const char* mode) {
  return std::string(cpuIsaName(isa)) + " " + dataTypeName(s.dtype) + " " + redOpName(s.op) + " divisor " +
         std::to_string(s.divisor) + " count " + std::to_string(count) + " " + mode;
}

// Compares got against the reference; reports the first few wrong elements.
void expectMatches(const ReduceSpec& s, Buffer& got, Buffer& want, size_t count, const std::string& what) {
  size_t wrong = 0;
  size_t n = dataTypeSize(s.dtype);
  for (size_t i = 0; i < count; ++i) {
    if (sameElement(s.dtype, got.at(i), want.at(i))) continue;
    if (++wrong <= 3) {
      uint64_t g = 0, w = 0;
      std::memcpy(&g, got.at(i), n);
      std::memcpy(&w, want.at(i), n);
      ADD_FAILURE() << what << ": element " << i << " is 0x" << std::hex << g << ", want 0x" << w;
    }
  }
  EXPECT_EQ(wrong, 0u) << what;
  EXPECT_TRUE(got.guardsIntact()) << what << ": wrote outside the output";
}

using Param = std::tuple<CpuIsa, mixcclDataType_t, mixcclRedOp_t>;

class CpuReduceTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (!cpuIsaSupported(isa())) GTEST_SKIP() << cpuIsaName(isa()) << " is not supported by this CPU";
  }
  CpuIsa isa() const { return std::get<0>(GetParam()); }
  mixcclDataType_t dtype() const { return std::get<1>(GetParam()); }
  mixcclRedOp_t op() const { return std::get<2>(GetParam()); }

  void fill(Buffer& buf, size_t count, std::mt19937_64& rng) {
    if (dtype() == mixcclFloat32 || dtype() == mixcclFloat64) fillFloats(dtype(), buf, count, rng);
    else fillRandom(buf, rng);
  }
};

TEST_P(CpuReduceTest, MatchesScalarReference) {
  std::mt19937_64 rng(42 + int(dtype()) * 8 + int(op()));
  for (size_t count : kLengths) {
    for (uint32_t divisor : kDivisors) {
      ReduceSpec spec{dtype(), op(), divisor};
      Buffer a(dtype(), count), b(dtype(), count), want(dtype(), count), got(dtype(), count);
      fill(a, count, rng);
      fill(b, count, rng);
      for (size_t i = 0; i < count; ++i) refElement(spec, a.at(i), b.at(i), want.at(i));

      cpuReduceWithIsa(isa(), got.data(), a.data(), b.data(), count, spec);
      expectMatches(spec, got, want, count, describe(isa(), spec, count, "dst distinct"));

      Buffer inA(dtype(), count), inB(dtype(), count);
      std::memcpy(inA.data(), a.data(), a.bytes());
      std::memcpy(inB.data(), b.data(), b.bytes());
      cpuReduceWithIsa(isa(), inA.data(), inA.data(), b.data(), count, spec);
      expectMatches(spec, inA, want, count, describe(isa(), spec, count, "dst == a"));
      cpuReduceWithIsa(isa(), inB.data(), a.data(), inB.data(), count, spec);
      expectMatches(spec, inB, want, count, describe(isa(), spec, count, "dst == b"));
      if (HasFailure()) return;
    }
  }
}

// The post-op is exercised for every op parameter too, which only varies the random inputs.
TEST_P(CpuReduceTest, PostOpDividesOrCopies) {
  std::mt19937_64 rng(7 + int(dtype()) * 8 + int(op()));
  for (size_t count : kLengths) {
    for (uint32_t divisor : kDivisors) {
      ReduceSpec spec{dtype(), op(), divisor};
      Buffer src(dtype(), count), want(dtype(), count), got(dtype(), count);
      fill(src, count, rng);
      for (size_t i = 0; i < count; ++i) refElement(spec, src.at(i), nullptr, want.at(i));
      if (divisor <= 1) std::memcpy(want.data(), src.data(), src.bytes());  // a plain copy, NaN payloads too
      cpuPostOpWithIsa(isa(), got.data(), src.data(), count, spec);
      expectMatches(spec, got, want, count, describe(isa(), spec, count, "postOp"));
      cpuPostOpWithIsa(isa(), src.data(), src.data(), count, spec);
      expectMatches(spec, src, want, count, describe(isa(), spec, count, "postOp in place"));
      if (HasFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, CpuReduceTest,
                         ::testing::Combine(::testing::Values(CpuIsa::kBaseline, CpuIsa::kAvx2),
                                            ::testing::ValuesIn(kAllTypes), ::testing::ValuesIn(kAllOps)),
                         [](const auto& info) {
                           return std::string(cpuIsaName(std::get<0>(info.param))) + "_" +
                                  dataTypeName(std::get<1>(info.param)) + "_" + redOpName(std::get<2>(info.param));
                         });

// Both instruction sets give the same bytes (NaN payloads aside), so ranks on different CPUs agree.
class CpuIsaAgreementTest : public ::testing::TestWithParam<std::tuple<mixcclDataType_t, mixcclRedOp_t>> {};

TEST_P(CpuIsaAgreementTest, Avx2MatchesBaseline) {
  if (!cpuIsaSupported(CpuIsa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  auto [dt, op] = GetParam();
  std::mt19937_64 rng(99);
  const size_t count = 4099;
  for (uint32_t divisor : kDivisors) {
    ReduceSpec spec{dt, op, divisor};
    Buffer a(dt, count), b(dt, count), base(dt, count), fast(dt, count);
    if (dt == mixcclFloat32 || dt == mixcclFloat64) {
      fillFloats(dt, a, count, rng);
      fillFloats(dt, b, count, rng);
    } else {
      fillRandom(a, rng);
      fillRandom(b, rng);
    }
    cpuReduceWithIsa(CpuIsa::kBaseline, base.data(), a.data(), b.data(), count, spec);
    cpuReduceWithIsa(CpuIsa::kAvx2, fast.data(), a.data(), b.data(), count, spec);
    expectMatches(spec, fast, base, count, describe(CpuIsa::kAvx2, spec, count, "vs baseline"));
  }
}

INSTANTIATE_TEST_SUITE_P(All, CpuIsaAgreementTest,
                         ::testing::Combine(::testing::ValuesIn(kAllTypes), ::testing::ValuesIn(kAllOps)),
                         [](const auto& info) {
                           return std::string(dataTypeName(std::get<0>(info.param))) + "_" +
                                  redOpName(std::get<1>(info.param));
                         });

// ---- Hand-checked cases that pin the documented rules.

template <typename T>
T reduceOne(mixcclDataType_t dt, mixcclRedOp_t op, T a, T b, uint32_t divisor = 0) {
  T out{};
  cpuReduce(&out, &a, &b, 1, ReduceSpec{dt, op, divisor});
  return out;
}

TEST(CpuReduce, IntegersWrapAndDivideTruncating) {
  EXPECT_EQ(reduceOne<int8_t>(mixcclInt8, mixcclSum, 127, 1), -128);
  EXPECT_EQ(reduceOne<int8_t>(mixcclInt8, mixcclProd, -128, -1), -128);
  EXPECT_EQ(reduceOne<uint8_t>(mixcclUint8, mixcclProd, 16, 16), 0);
  EXPECT_EQ(reduceOne<int32_t>(mixcclInt32, mixcclSum, INT32_MAX, 1), INT32_MIN);
  EXPECT_EQ(reduceOne<int32_t>(mixcclInt32, mixcclSum, -4, -3, 2), -3);  // -7 / 2 truncates toward zero
  EXPECT_EQ(reduceOne<uint32_t>(mixcclUint32, mixcclSum, 0xffffffffu, 0, 3), 0x55555555u);
  EXPECT_EQ(reduceOne<uint32_t>(mixcclUint32, mixcclMax, 0xffffffffu, 1), 0xffffffffu);  // unsigned compare
  EXPECT_EQ(reduceOne<int64_t>(mixcclInt64, mixcclSum, INT64_MIN, 0, 3), INT64_MIN / 3);
  EXPECT_EQ(reduceOne<uint64_t>(mixcclUint64, mixcclSum, UINT64_MAX, 2), 1u);
  EXPECT_EQ(reduceOne<int8_t>(mixcclInt8, mixcclMin, -5, 3), -5);
}

TEST(CpuReduce, NarrowFloatsRoundOnceAndSaturate) {
  // 1 + 2^-11 is a tie in half: to even (1.0); 1 + 3*2^-11 rounds up to 1 + 2^-9.
  EXPECT_EQ(reduceOne<uint16_t>(mixcclFloat16, mixcclSum, floatToHalf(1.0f), floatToHalf(0x1p-11f)), 0x3c00);
  EXPECT_EQ(reduceOne<uint16_t>(mixcclFloat16, mixcclSum, floatToHalf(1.0f), floatToHalf(0x3p-11f)), 0x3c02);
  // (3 + 2) / 2 = 2.5 in fp32, representable.
  EXPECT_EQ(reduceOne<uint16_t>(mixcclFloat16, mixcclSum, floatToHalf(3.0f), floatToHalf(2.0f), 2), 0x4100);
  EXPECT_EQ(reduceOne<uint16_t>(mixcclFloat16, mixcclSum, 0x7bff, 0x7bff), 0x7c00);  // half overflows to Inf
  EXPECT_EQ(reduceOne<uint8_t>(mixcclFloat8e4m3, mixcclSum, 0x7e, 0x7e), 0x7e);      // 448 + 448: saturates
  EXPECT_EQ(reduceOne<uint8_t>(mixcclFloat8e5m2, mixcclSum, 0x7b, 0x7b), 0x7b);      // 57344 * 2: saturates
  EXPECT_EQ(reduceOne<uint8_t>(mixcclFloat8e4m3, mixcclSum, 0x7e, 0x7e, 2), 0x7e);   // fp32 keeps 896 / 2 = 448
  EXPECT_EQ(reduceOne<uint16_t>(mixcclBfloat16, mixcclProd, floatToBf16(3.0f), floatToBf16(-0.5f)), 0xbfc0);
}

TEST(CpuReduce, MaxAndMinFollowTheDocumentedNanAndZeroRule) {
  float nan = NAN;
  EXPECT_EQ(reduceOne<float>(mixcclFloat32, mixcclMax, nan, 1.0f), 1.0f);  // NaN in a: dropped
  EXPECT_TRUE(std::isnan(reduceOne<float>(mixcclFloat32, mixcclMax, 1.0f, nan)));  // NaN in b: kept
  EXPECT_TRUE(std::signbit(reduceOne<float>(mixcclFloat32, mixcclMax, 0.0f, -0.0f)));  // equal: b
  EXPECT_FALSE(std::signbit(reduceOne<float>(mixcclFloat32, mixcclMin, -0.0f, 0.0f)));
  EXPECT_EQ(reduceOne<double>(mixcclFloat64, mixcclMin, nan, -2.0), -2.0);
  EXPECT_EQ(reduceOne<uint16_t>(mixcclFloat16, mixcclMax, 0x7e00, floatToHalf(2.0f)), floatToHalf(2.0f));
  // Long enough for the vector loops, same rule.
  std::vector<float> a(100, nan), b(100, 1.0f), out(100);
  cpuReduce(out.data(), a.data(), b.data(), 100, ReduceSpec{mixcclFloat32, mixcclMax, 0});
  for (float v : out) ASSERT_EQ(v, 1.0f);
  cpuReduce(out.data(), b.data(), a.data(), 100, ReduceSpec{mixcclFloat32, mixcclMin, 0});
  for (float v : out) ASSERT_TRUE(std::isnan(v));
}

TEST(CpuBackend, ReportsItselfAndDelegates) {
  DeviceBackend& be = cpuBackend();
  EXPECT_EQ(&be, &cpuBackend());
  EXPECT_EQ(be.memoryType(), MemoryType::kHost);
  EXPECT_STREQ(be.name(), "cpu");
  EXPECT_STREQ(memoryTypeName(MemoryType::kHost), "host");
  EXPECT_STREQ(memoryTypeName(MemoryType::kCuda), "cuda");
  EXPECT_STREQ(memoryTypeName(MemoryType::kHip), "hip");

  std::vector<int32_t> a{1, 2, 3}, b{10, 20, 30}, out(3);
  be.reduce(out.data(), a.data(), b.data(), 3, ReduceSpec{mixcclInt32, mixcclSum, 0});
  EXPECT_EQ(out, (std::vector<int32_t>{11, 22, 33}));
  be.postOp(out.data(), out.data(), 3, ReduceSpec{mixcclInt32, mixcclSum, 2});
  EXPECT_EQ(out, (std::vector<int32_t>{5, 11, 16}));
  be.copy(out.data(), a.data(), 3 * sizeof(int32_t));
  EXPECT_EQ(out, a);
  be.copy(out.data(), out.data(), 3 * sizeof(int32_t));  // same pointer: no-op
  EXPECT_EQ(out, a);
}

TEST(CpuBackend, ScratchIsAlignedAndFailsCleanly) {
  DeviceBackend& be = cpuBackend();
  for (size_t bytes : {size_t(0), size_t(1), size_t(1000), size_t(1) << 20}) {
    void* p = nullptr;
    ASSERT_EQ(be.allocScratch(bytes, &p), mixcclSuccess);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 1, bytes);
    be.freeScratch(p);
  }
  void* p = reinterpret_cast<void*>(uintptr_t{0x1234});
  EXPECT_EQ(be.allocScratch(SIZE_MAX / 2, &p), mixcclSystemError);
  EXPECT_EQ(p, reinterpret_cast<void*>(uintptr_t{0x1234})) << "output written on failure";
  be.freeScratch(nullptr);
}

}  // namespace
}  // namespace mixccl

#include "device/cpu/cpu_reduce.h"

#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/log.h"
#include "device/cpu/float_formats.h"
#include "device/cpu/narrow_float_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define MIXCCL_CPU_X86 1
#else
#define MIXCCL_CPU_X86 0
#endif

#define MIXCCL_ALWAYS_INLINE inline __attribute__((always_inline))

// How the kernels are built: one loop body per (codec, op, division?) written as plain scalar code that GCC
// auto-vectorises, instantiated twice: once for the baseline of the build (SSE2 on x86-64) and once inside a
// function with target("avx2,f16c"), so the same source becomes 256-bit code on CPUs that have it. On AVX2 the
// narrow floats (half, bf16, fp8) use the explicit codecs of narrow_float_avx2.h instead: the F16C conversion
// instructions and short integer sequences that GCC does not find from the scalar bit arithmetic. They round
// exactly as float_formats.h does, so both instruction sets give the same bytes.

namespace mixccl {
namespace {

// ---- Codecs: an element in memory (Store) and the type it is combined in (Compute).

template <typename T>
struct Native {
  using Store = T;
  using Compute = T;
  static MIXCCL_ALWAYS_INLINE Compute load(Store v) { return v; }
  static MIXCCL_ALWAYS_INLINE Store store(Compute v) { return v; }
};

struct Half {
  using Store = uint16_t;
  using Compute = float;
  static MIXCCL_ALWAYS_INLINE Compute load(Store v) { return halfToFloat(v); }
  static MIXCCL_ALWAYS_INLINE Store store(Compute v) { return floatToHalf(v); }
};

struct Bf16 {
  using Store = uint16_t;
  using Compute = float;
  static MIXCCL_ALWAYS_INLINE Compute load(Store v) { return bf16ToFloat(v); }
  static MIXCCL_ALWAYS_INLINE Store store(Compute v) { return floatToBf16(v); }
};

struct Fp8e4m3 {
  using Store = uint8_t;
  using Compute = float;
  static MIXCCL_ALWAYS_INLINE Compute load(Store v) { return fp8e4m3ToFloat(v); }
  static MIXCCL_ALWAYS_INLINE Store store(Compute v) { return floatToFp8e4m3(v); }
};

struct Fp8e5m2 {
  using Store = uint8_t;
  using Compute = float;
  static MIXCCL_ALWAYS_INLINE Compute load(Store v) { return fp8e5m2ToFloat(v); }
  static MIXCCL_ALWAYS_INLINE Store store(Compute v) { return floatToFp8e5m2(v); }
};

// ---- Operators on the compute type.

struct OpSum {
  template <typename T>
  static MIXCCL_ALWAYS_INLINE T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));  // wraps, no UB
    } else {
      return a + b;
    }
  }
};

struct OpProd {
  template <typename T>
  static MIXCCL_ALWAYS_INLINE T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      // Promote narrow unsigned types to unsigned int (not int, whose product could overflow).
      using U = std::common_type_t<std::make_unsigned_t<T>, unsigned>;
      return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    } else {
      return a * b;
    }
  }
};

struct OpMax {
  template <typename T>
  static MIXCCL_ALWAYS_INLINE T apply(T a, T b) { return a > b ? a : b; }
};

struct OpMin {
  template <typename T>
  static MIXCCL_ALWAYS_INLINE T apply(T a, T b) { return a < b ? a : b; }
};

// The post-op alone: keeps a (b is never read, so its loads are dead code and disappear).
struct OpKeep {
  template <typename T>
  static MIXCCL_ALWAYS_INLINE T apply(T a, T) { return a; }
};

// v / divisor in the compute type. For integers of up to 32 bits the quotient is computed in double, which
// vectorises: the exact quotient q = v/d is either an integer (exact in double) or lies at least 1/d away from
// one, while the rounding error of the double division is at most |q| 2^-53 <= 2^32/d * 2^-53, far below 1/d;
// so truncating the double gives C's truncating integer division. 64-bit integers divide natively.
template <typename T>
MIXCCL_ALWAYS_INLINE T divide(T v, uint32_t divisor) {
  if constexpr (std::is_floating_point_v<T>) {
    return v / static_cast<T>(divisor);
  } else if constexpr (sizeof(T) <= 4) {
    return static_cast<T>(static_cast<int64_t>(static_cast<double>(v) / static_cast<double>(divisor)));
  } else {
    return static_cast<T>(v / static_cast<T>(divisor));
  }
}

// ---- Loop bodies (the one definition of the arithmetic; inlined into each instruction-set entry point).

template <typename C, typename Op, bool kDiv>
MIXCCL_ALWAYS_INLINE void reduceLoop(void* dst, const void* a, const void* b, size_t n, uint32_t divisor) {
  using S = typename C::Store;
  // No __restrict__: dst may equal a or b. GCC's runtime alias check accepts equal pointers (a distance of
  // zero is safe for a loop that reads element i before writing it), so in-place calls stay vectorised.
  S* d = static_cast<S*>(dst);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  for (size_t i = 0; i < n; ++i) {
    auto v = Op::apply(C::load(x[i]), C::load(y[i]));
    if constexpr (kDiv) v = divide(v, divisor);
    d[i] = C::store(v);
  }
}

#if MIXCCL_CPU_X86
// ---- AVX2 + F16C loops for the narrow floats: 16 elements per step through fp32 registers with the codecs of
// narrow_float_avx2.h, and the scalar loop above for the tail.

template <typename C>
struct VecCodec {
  using Type = void;  // no explicit vector codec: GCC's auto-vectorisation of reduceLoop does the job
};
template <>
struct VecCodec<Half> {
  using Type = avx2::HalfVec;
};
template <>
struct VecCodec<Bf16> {
  using Type = avx2::Bf16Vec;
};
template <>
struct VecCodec<Fp8e4m3> {
  using Type = avx2::Fp8e4m3Vec;
};
template <>
struct VecCodec<Fp8e5m2> {
  using Type = avx2::Fp8e5m2Vec;
};

template <typename Op, bool kDiv>
__attribute__((target("avx2,f16c"))) MIXCCL_ALWAYS_INLINE __m256 applyVec(__m256 a, __m256 b, __m256 d) {
  __m256 v = a;  // OpKeep
  if constexpr (std::is_same_v<Op, OpSum>) v = _mm256_add_ps(a, b);
  if constexpr (std::is_same_v<Op, OpProd>) v = _mm256_mul_ps(a, b);
  if constexpr (std::is_same_v<Op, OpMax>) v = _mm256_max_ps(a, b);  // a > b ? a : b, exactly as OpMax
  if constexpr (std::is_same_v<Op, OpMin>) v = _mm256_min_ps(a, b);  // a < b ? a : b, exactly as OpMin
  if constexpr (kDiv) v = _mm256_div_ps(v, d);
  return v;
}

template <typename C, typename Op, bool kDiv>
__attribute__((target("avx2,f16c"))) MIXCCL_ALWAYS_INLINE void reduceNarrowAvx2(void* dst, const void* a,
                                                                                 const void* b, size_t n,
                                                                                 uint32_t divisor) {
  using V = typename VecCodec<C>::Type;
  using S = typename C::Store;
  S* d = static_cast<S*>(dst);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  const __m256 vd = _mm256_set1_ps(static_cast<float>(divisor));
  size_t i = 0;
  // Each step loads all of its inputs before it stores, so dst == a or dst == b is safe.
  for (; i + 16 <= n; i += 16) {
    __m256 x0, x1, y0, y1;
    V::load(x + i, x0, x1);
    V::load(y + i, y0, y1);  // dead code for OpKeep
    V::store(d + i, applyVec<Op, kDiv>(x0, y0, vd), applyVec<Op, kDiv>(x1, y1, vd));
  }
  reduceLoop<C, Op, kDiv>(d + i, x + i, y + i, n - i, divisor);
}
#endif

// ---- Entry points per instruction set.

using ReduceFn = void (*)(void*, const void*, const void*, size_t, uint32_t);

template <typename C, typename Op, bool kDiv>
void reduceBaseline(void* dst, const void* a, const void* b, size_t n, uint32_t divisor) {
  reduceLoop<C, Op, kDiv>(dst, a, b, n, divisor);
}

#if MIXCCL_CPU_X86
template <typename C, typename Op, bool kDiv>
__attribute__((target("avx2,f16c"))) void reduceAvx2(void* dst, const void* a, const void* b, size_t n,
                                                     uint32_t divisor) {
  if constexpr (!std::is_void_v<typename VecCodec<C>::Type>) {
    reduceNarrowAvx2<C, Op, kDiv>(dst, a, b, n, divisor);
  } else {
    reduceLoop<C, Op, kDiv>(dst, a, b, n, divisor);
  }
}

#endif

template <typename C, typename Op>
ReduceFn pickDiv([[maybe_unused]] CpuIsa isa, bool div) {
#if MIXCCL_CPU_X86
  if (isa == CpuIsa::kAvx2) return div ? &reduceAvx2<C, Op, true> : &reduceAvx2<C, Op, false>;
#endif
  return div ? &reduceBaseline<C, Op, true> : &reduceBaseline<C, Op, false>;
}

template <typename C>
ReduceFn pickOp(CpuIsa isa, mixcclRedOp_t op, bool div) {
  switch (op) {
    case mixcclSum: return pickDiv<C, OpSum>(isa, div);
    case mixcclProd: return pickDiv<C, OpProd>(isa, div);
    case mixcclMax: return pickDiv<C, OpMax>(isa, div);
    case mixcclMin: return pickDiv<C, OpMin>(isa, div);
    default: return nullptr;
  }
}

// Calls f.template operator()<Codec>() for the codec of dt; false if dt is not a data type.
template <typename F>
bool withCodec(mixcclDataType_t dt, F&& f) {
  switch (dt) {
    case mixcclInt8: f.template operator()<Native<int8_t>>(); return true;
    case mixcclUint8: f.template operator()<Native<uint8_t>>(); return true;
    case mixcclInt32: f.template operator()<Native<int32_t>>(); return true;
    case mixcclUint32: f.template operator()<Native<uint32_t>>(); return true;
    case mixcclInt64: f.template operator()<Native<int64_t>>(); return true;
    case mixcclUint64: f.template operator()<Native<uint64_t>>(); return true;
    case mixcclFloat16: f.template operator()<Half>(); return true;
    case mixcclFloat32: f.template operator()<Native<float>>(); return true;
    case mixcclFloat64: f.template operator()<Native<double>>(); return true;
    case mixcclBfloat16: f.template operator()<Bf16>(); return true;
    case mixcclFloat8e4m3: f.template operator()<Fp8e4m3>(); return true;
    case mixcclFloat8e5m2: f.template operator()<Fp8e5m2>(); return true;
    default: return false;
  }
}

[[noreturn]] void invalidSpec(const char* what, const ReduceSpec& spec) {
  MIXCCL_LOG(kWarn, "internal error: %s called with dtype %d op %d (invariant violated)", what,
             static_cast<int>(spec.dtype), static_cast<int>(spec.op));
  std::abort();
}

CpuIsa detectIsa() {
#if MIXCCL_CPU_X86
  // __builtin_cpu_supports("avx2") also checks that the OS saves the YMM registers. F16C is read from CPUID
  // directly (not every compiler's __builtin_cpu_supports knows it); every AVX2 CPU so far has it.
  __builtin_cpu_init();
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  if (__builtin_cpu_supports("avx2") && f16c) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kBaseline;
}

}  // namespace

CpuIsa cpuBestIsa() {
  static const CpuIsa kBest = detectIsa();
  return kBest;
}

bool cpuIsaSupported(CpuIsa isa) { return isa == CpuIsa::kBaseline || cpuBestIsa() == CpuIsa::kAvx2; }

const char* cpuIsaName(CpuIsa isa) { return isa == CpuIsa::kAvx2 ? "avx2" : "baseline"; }

void cpuReduceWithIsa(CpuIsa isa, void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) {
  ReduceFn fn = nullptr;
  bool ok = withCodec(spec.dtype, [&]<typename C>() { fn = pickOp<C>(isa, spec.op, spec.divisor > 1); });
  if (!ok || fn == nullptr) invalidSpec("cpuReduce", spec);
  if (count != 0) fn(dst, a, b, count, spec.divisor);
}

void cpuPostOpWithIsa(CpuIsa isa, void* dst, const void* src, size_t count, const ReduceSpec& spec) {
  ReduceFn fn = nullptr;
  size_t elemBytes = 0;
  bool ok = withCodec(spec.dtype, [&]<typename C>() {
    fn = pickDiv<C, OpKeep>(isa, true);
    elemBytes = sizeof(typename C::Store);
  });
  if (!ok) invalidSpec("cpuPostOp", spec);
  if (count == 0) return;
  if (spec.divisor > 1) {
    fn(dst, src, src, count, spec.divisor);
  } else if (dst != src) {
    std::memcpy(dst, src, count * elemBytes);
  }
}

void cpuReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) {
  cpuReduceWithIsa(cpuBestIsa(), dst, a, b, count, spec);
}

void cpuPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) {
  cpuPostOpWithIsa(cpuBestIsa(), dst, src, count, spec);
}

}  // namespace mixccl

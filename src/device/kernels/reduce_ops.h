#pragma once
// The arithmetic of one element, in kernel code: codecs (how an element is stored and the type it is combined
// in) and operators. Semantics are those of the CPU backend (src/device/cpu/cpu_reduce.h), bit for bit:
// * integers: sum and prod wrap modulo 2^bits (computed unsigned), the division truncates toward zero;
// * float and double combine in their own type; half, bf16 and fp8 widen to fp32, combine and divide in fp32
//   and round back once;
// * max is `a > b ? a : b`, min `a < b ? a : b` (a NaN in `a` is dropped, one in `b` kept; ±0 gives b);
// * NaN results carry the payload x86 SSE gives them, which GPUs do not do by themselves (their arithmetic
//   returns one canonical NaN): the NaN operand, quieted, `a` first; a NaN made from numbers (Inf - Inf,
//   0 * Inf) is x86's default NaN, negative with only the quiet bit. keepX86Nan() applies that rule after
//   every operation that can make a NaN, so a mixed CPU + GPU communicator agrees bitwise even on NaN.
// Division is IEEE (nvcc: -prec-div=true; hipcc: correctly rounded fp32 division), no FMA contraction, no
// flush to zero: the build sets those flags on the kernel sources.
#include <type_traits>

#include "device/kernels/gpu_portability.h"
#include "device/kernels/narrow_float_codec.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

// ---- x86 NaN propagation.

MIXCCL_DEVICE_INLINE float keepX86Nan(float r, float a, float b) {
  if (r == r) return r;
  if (a != a) return bitsFloat(floatBits(a) | 0x00400000u);
  if (b != b) return bitsFloat(floatBits(b) | 0x00400000u);
  return bitsFloat(0xffc00000u);
}

MIXCCL_DEVICE_INLINE double keepX86Nan(double r, double a, double b) {
  if (r == r) return r;
  if (a != a) return bitsDouble(doubleBits(a) | 0x0008000000000000ull);
  if (b != b) return bitsDouble(doubleBits(b) | 0x0008000000000000ull);
  return bitsDouble(0xfff8000000000000ull);
}

// ---- Codecs: Store is the element in memory, Compute the type it is combined in.

template <typename T>
struct NativeCodec {
  using Store = T;
  using Compute = T;
  static MIXCCL_DEVICE_INLINE Compute load(Store v) { return v; }
  static MIXCCL_DEVICE_INLINE Store store(Compute v) { return v; }
};

struct HalfCodec {
  using Store = uint16_t;
  using Compute = float;
  static MIXCCL_DEVICE_INLINE Compute load(Store v) { return halfToFloat(v); }
  static MIXCCL_DEVICE_INLINE Store store(Compute v) { return floatToHalf(v); }
};

struct Bf16Codec {
  using Store = uint16_t;
  using Compute = float;
  static MIXCCL_DEVICE_INLINE Compute load(Store v) { return bf16ToFloat(v); }
  static MIXCCL_DEVICE_INLINE Store store(Compute v) { return floatToBf16(v); }
};

struct Fp8e4m3Codec {
  using Store = uint8_t;
  using Compute = float;
  static MIXCCL_DEVICE_INLINE Compute load(Store v) { return fp8e4m3ToFloat(v); }
  static MIXCCL_DEVICE_INLINE Store store(Compute v) { return floatToFp8e4m3(v); }
};

struct Fp8e5m2Codec {
  using Store = uint8_t;
  using Compute = float;
  static MIXCCL_DEVICE_INLINE Compute load(Store v) { return fp8e5m2ToFloat(v); }
  static MIXCCL_DEVICE_INLINE Store store(Compute v) { return floatToFp8e5m2(v); }
};

// ---- Operators on the compute type.

struct SumOp {
  template <typename T>
  static MIXCCL_DEVICE_INLINE T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    } else {
      return keepX86Nan(a + b, a, b);
    }
  }
};

struct ProdOp {
  template <typename T>
  static MIXCCL_DEVICE_INLINE T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      // Narrow unsigned types promote to unsigned int, never to int (whose product could overflow).
      using U = std::common_type_t<std::make_unsigned_t<T>, unsigned>;
      return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    } else {
      return keepX86Nan(a * b, a, b);
    }
  }
};

struct MaxOp {
  template <typename T>
  static MIXCCL_DEVICE_INLINE T apply(T a, T b) {
    return a > b ? a : b;
  }
};

struct MinOp {
  template <typename T>
  static MIXCCL_DEVICE_INLINE T apply(T a, T b) {
    return a < b ? a : b;
  }
};

// The post-op alone: the first operand, unchanged.
struct KeepOp {
  template <typename T>
  static MIXCCL_DEVICE_INLINE T apply(T a, T) {
    return a;
  }
};

// v / divisor in the compute type (divisor > 1). Integers of up to 32 bits divide exactly in int64 (C's
// truncation toward zero, whatever the divisor); 64-bit integers divide natively.
template <typename T>
MIXCCL_DEVICE_INLINE T divideBy(T v, uint32_t divisor) {
  if constexpr (std::is_floating_point_v<T>) {
    T d = static_cast<T>(divisor);
    return keepX86Nan(v / d, v, d);
  } else if constexpr (sizeof(T) <= 4) {
    return static_cast<T>(static_cast<int64_t>(v) / static_cast<int64_t>(divisor));
  } else {
    return static_cast<T>(v / static_cast<T>(divisor));
  }
}

// One element: load both, combine, divide if asked, round back.
template <typename C, typename Op, bool kDiv>
MIXCCL_DEVICE_INLINE typename C::Store reduceElement(typename C::Store a, typename C::Store b, uint32_t divisor) {
  auto v = Op::apply(C::load(a), C::load(b));
  if constexpr (kDiv) v = divideBy(v, divisor);
  return C::store(v);
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

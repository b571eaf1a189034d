#include "support/exact_data.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "device/cpu/float_formats.h"

namespace mixccl::testdata {
namespace {

// Largest integer N such that 0..N are all exact in `dt`.
double maxExactInt(mixcclDataType_t dt) {
  switch (dt) {
    case mixcclInt8: return 127;
    case mixcclUint8: return 255;
    case mixcclFloat16: return 2048;
    case mixcclBfloat16: return 256;
    case mixcclFloat8e4m3: return 16;
    case mixcclFloat8e5m2: return 8;
    default: return 1 << 20;
  }
}

bool isFloat(mixcclDataType_t dt) {
  return dt == mixcclFloat16 || dt == mixcclFloat32 || dt == mixcclFloat64 || dt == mixcclBfloat16 ||
         dt == mixcclFloat8e4m3 || dt == mixcclFloat8e5m2;
}

}  // namespace

double inputValue(bool reduce, mixcclRedOp_t op, mixcclDataType_t dt, int rank, int nranks, uint64_t index) {
  uint64_t shifted = (static_cast<uint64_t>(rank) + index) % static_cast<uint64_t>(nranks);
  if (!reduce) {
    uint64_t range = static_cast<uint64_t>(maxExactInt(dt)) + 1;
    return static_cast<double>((static_cast<uint64_t>(rank) * 131 + index * 7) % range);
  }
  switch (op) {
    case mixcclSum:
    case mixcclAvg:
      return shifted < 1 + (index * 5) % 8 ? 1.0 : 0.0;  // 1..8 contributors of a 1
    case mixcclProd:
      return shifted < (index % 4) ? 2.0 : 1.0;  // 0..3 contributors of a 2
    default:  // max, min
      return static_cast<double>((static_cast<uint64_t>(rank) * 3 + index) % 7);
  }
}

void encodeValue(void* out, mixcclDataType_t dt, double v) {
  switch (dt) {
    case mixcclInt8: *static_cast<int8_t*>(out) = static_cast<int8_t>(v); break;
    case mixcclUint8: *static_cast<uint8_t*>(out) = static_cast<uint8_t>(v); break;
    case mixcclInt32: *static_cast<int32_t*>(out) = static_cast<int32_t>(v); break;
    case mixcclUint32: *static_cast<uint32_t*>(out) = static_cast<uint32_t>(v); break;
    case mixcclInt64: *static_cast<int64_t*>(out) = static_cast<int64_t>(v); break;
    case mixcclUint64: *static_cast<uint64_t*>(out) = static_cast<uint64_t>(v); break;
    case mixcclFloat16: *static_cast<uint16_t*>(out) = floatToHalf(static_cast<float>(v)); break;
    case mixcclFloat32: *static_cast<float*>(out) = static_cast<float>(v); break;
    case mixcclFloat64: *static_cast<double*>(out) = v; break;
    case mixcclBfloat16: *static_cast<uint16_t*>(out) = floatToBf16(static_cast<float>(v)); break;
    case mixcclFloat8e4m3: *static_cast<uint8_t*>(out) = floatToFp8e4m3(static_cast<float>(v)); break;
    case mixcclFloat8e5m2: *static_cast<uint8_t*>(out) = floatToFp8e5m2(static_cast<float>(v)); break;
    default: break;
  }
}

void expectedReduced(void* out, mixcclRedOp_t op, mixcclDataType_t dt, int nranks, uint64_t index) {
  double acc = inputValue(true, op, dt, 0, nranks, index);
  for (int r = 1; r < nranks; ++r) {
    double v = inputValue(true, op, dt, r, nranks, index);
    switch (op) {
      case mixcclSum: case mixcclAvg: acc += v; break;
      case mixcclProd: acc *= v; break;
      case mixcclMax: acc = v > acc ? v : acc; break;
      case mixcclMin: acc = v < acc ? v : acc; break;
      default: break;
    }
  }
  if (op == mixcclAvg && nranks > 1) {
    if (!isFloat(dt)) {
      acc = static_cast<double>(static_cast<uint64_t>(acc) / static_cast<uint64_t>(nranks));
    } else if (dt == mixcclFloat64) {
      acc = acc / nranks;
    } else {
      acc = static_cast<double>(static_cast<float>(acc) / static_cast<float>(nranks));
    }
  }
  encodeValue(out, dt, acc);
}

namespace {

// Writes elements [first, first + count) of `value(index)` (small non-negative integers) encoded as T. Narrow
// floats go through a table of the encodings of 0..2048 (every value the inputs use), since this runs for every
// element of every test buffer.
template <typename T, typename ValueFn>
void fillTyped(void* buf, mixcclDataType_t dt, uint64_t first, uint64_t count, ValueFn value) {
  T* out = static_cast<T*>(buf);
  if constexpr (sizeof(T) <= 2) {
    static thread_local std::vector<T> table[mixcclNumTypes];
    std::vector<T>& t = table[dt];
    if (t.empty()) {
      t.resize(2049);
      for (int v = 0; v <= 2048; ++v) encodeValue(&t[v], dt, v);
    }
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t v = static_cast<uint64_t>(value(first + i));
      if (v <= 2048) {
        out[i] = t[v];
      } else {
        encodeValue(&out[i], dt, static_cast<double>(v));
      }
    }
  } else {
    for (uint64_t i = 0; i < count; ++i) encodeValue(&out[i], dt, value(first + i));
  }
}

// Runs fn(offset, n) over [0, count) in slices on several threads when the buffer is large (the perf tools check
// buffers of hundreds of MiB per rank; every element is computed on its own, so slices are independent).
template <typename Fn>
void inSlices(uint64_t count, Fn fn) {
  constexpr uint64_t kSerialBelow = uint64_t(1) << 20;
  const unsigned threads = std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
  if (count < kSerialBelow || threads == 1) {
    fn(0, count);
    return;
  }
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    const uint64_t lo = count * t / threads, hi = count * (t + 1) / threads;
    pool.emplace_back([&fn, lo, hi] { fn(lo, hi - lo); });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace

void fillInput(void* buf, bool reduce, mixcclRedOp_t op, mixcclDataType_t dt, int rank, int nranks, uint64_t first,
               uint64_t count) {
  const size_t sz = dataTypeSize(dt);
  inSlices(count, [&](uint64_t offset, uint64_t n) {
    void* at = static_cast<char*>(buf) + offset * sz;
    auto value = [&](uint64_t index) { return inputValue(reduce, op, dt, rank, nranks, index); };
    switch (sz) {
      case 1: fillTyped<uint8_t>(at, dt, first + offset, n, value); break;
      case 2: fillTyped<uint16_t>(at, dt, first + offset, n, value); break;
      case 4: fillTyped<uint32_t>(at, dt, first + offset, n, value); break;
      default: fillTyped<uint64_t>(at, dt, first + offset, n, value); break;
    }
  });
}

void fillReduced(void* buf, mixcclRedOp_t op, mixcclDataType_t dt, int nranks, uint64_t first, uint64_t count) {
  const size_t sz = dataTypeSize(dt);
  auto* p = static_cast<char*>(buf);
  inSlices(count, [&](uint64_t offset, uint64_t n) {
    for (uint64_t i = offset; i < offset + n; ++i) expectedReduced(p + i * sz, op, dt, nranks, first + i);
  });
}

uint64_t countWrong(const void* got, const void* want, mixcclDataType_t dt, uint64_t count) {
  size_t sz = dataTypeSize(dt);
  const auto* a = static_cast<const char*>(got);
  const auto* b = static_cast<const char*>(want);
  if (memcmp(a, b, count * sz) == 0) return 0;
  uint64_t wrong = 0;
  for (uint64_t i = 0; i < count; ++i) wrong += memcmp(a + i * sz, b + i * sz, sz) != 0;
  return wrong;
}

void fillSend(int coll, void* sendbuf, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root, int rank,
              int nranks) {
  switch (coll) {
    case 0:
    case 4: fillInput(sendbuf, true, op, dt, rank, nranks, 0, count); break;
    case 1: fillInput(sendbuf, false, op, dt, rank, nranks, 0, count); break;
    case 2: fillInput(sendbuf, true, op, dt, rank, nranks, 0, count * nranks); break;
    case 3: fillInput(sendbuf, false, op, dt, rank, nranks, 0, count); break;
    default: break;
  }
}

void fillExpectedRecv(int coll, void* want, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                      int rank, int nranks) {
  size_t sz = dataTypeSize(dt);
  switch (coll) {
    case 0:
    case 4: fillReduced(want, op, dt, nranks, 0, count); break;
    case 1:
      for (int r = 0; r < nranks; ++r)
        fillInput(static_cast<char*>(want) + r * count * sz, false, op, dt, r, nranks, 0, count);
      break;
    case 2: fillReduced(want, op, dt, nranks, static_cast<uint64_t>(rank) * count, count); break;
    case 3: fillInput(want, false, op, dt, root, nranks, 0, count); break;
    default: break;
  }
}

}  // namespace mixccl::testdata

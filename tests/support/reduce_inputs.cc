#include "support/reduce_inputs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/datatype.h"

namespace mixccl::test {
namespace {

// Interesting values of a type, as bit patterns.
std::vector<uint64_t> edgeValues(mixcclDataType_t dt) {
  switch (dt) {
    case mixcclInt8:
    case mixcclUint8: return {0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x55, 0xaa, 0x10};
    case mixcclInt32:
    case mixcclUint32:
      return {0, 1, 2, 3, 7, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x10000, 0xffff, 0x55555555};
    case mixcclInt64:
    case mixcclUint64:
      return {0,
              1,
              2,
              3,
              0x7fffffffffffffffull,
              0x8000000000000000ull,
              0x8000000000000001ull,
              0xffffffffffffffffull,
              0xfffffffffffffffeull,
              0x100000000ull,
              0xffffffffull,
              0x5555555555555555ull};
    case mixcclFloat32: {
      std::vector<uint64_t> v = {0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x40400000, 0x3eaaaaab, 0x7f7fffff,
                                 0xff7fffff, 0x00800000, 0x80800000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff,
                                 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd00001, 0x7f800001,
                                 0xff812345, 0x4b800001, 0x33800000, 0x34000000, 0x3f800001};
      return v;
    }
    case mixcclFloat64:
      return {0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
              0x4008000000000000ull, 0x3fd5555555555555ull, 0x7fefffffffffffffull, 0xffefffffffffffffull,
              0x0010000000000000ull, 0x0000000000000001ull, 0x800fffffffffffffull, 0x7ff0000000000000ull,
              0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff8000012345678ull,
              0x7ff0000000000001ull, 0xfff4000000000000ull, 0x4340000000000001ull, 0x3ff0000000000001ull};
    case mixcclFloat16:
      return {0x0000, 0x8000, 0x3c00, 0xbc00, 0x4200, 0x3555, 0x7bff, 0xfbff, 0x0400, 0x8400, 0x0001, 0x8001,
              0x03ff, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7e55, 0x7c01, 0xfd00, 0x3c01, 0x7800, 0x5bff, 0x1400};
    case mixcclBfloat16:
      return {0x0000, 0x8000, 0x3f80, 0xbf80, 0x4040, 0x3eab, 0x7f7f, 0xff7f, 0x0080, 0x8080, 0x0001,
              0x8001, 0x007f, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7fd5, 0x7f81, 0xffa0, 0x3f81, 0x7f00};
    default:  // fp8: every code is an edge value
      break;
  }
  std::vector<uint64_t> all;
  for (uint64_t c = 0; c < 256; ++c) all.push_back(c);
  return all;
}

}  // namespace

void appendElement(std::vector<uint8_t>& out, size_t size, uint64_t bits) {
  size_t at = out.size();
  out.resize(at + size);
  std::memcpy(out.data() + at, &bits, size);  // little-endian: the low bytes
}

// Two input vectors: every pair of edge values, then (16-bit types) every code against random partners, then
// random bit patterns.
void makeReduceInputs(mixcclDataType_t dt, std::vector<uint8_t>& a, std::vector<uint8_t>& b) {
  a.clear();
  b.clear();
  size_t size = dataTypeSize(dt);
  std::vector<uint64_t> edges = edgeValues(dt);
  for (uint64_t x : edges) {
    for (uint64_t y : edges) {
      appendElement(a, size, x);
      appendElement(b, size, y);
    }
  }
  std::mt19937_64 rng(uint64_t(dt) * 7919 + 1);
  if (size == 2) {
    for (uint64_t c = 0; c < 65536; ++c) {
      appendElement(a, size, c);
      appendElement(b, size, rng());
      appendElement(a, size, rng());
      appendElement(b, size, c);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    uint64_t x = rng(), y = rng();
    if (dt == mixcclFloat32 || dt == mixcclFloat64 || size == 2) {
      // Mostly ordinary magnitudes, so sums and products round (random exponents would mostly overflow).
      if (i % 2 == 0) {
        x = size == 8 ? (x & 0x800fffffffffffffull) | (uint64_t(0x3f0 + (x >> 50) % 32) << 52) : x;
        y = size == 8 ? (y & 0x800fffffffffffffull) | (uint64_t(0x3f0 + (y >> 50) % 32) << 52) : y;
        x = size == 4 ? (x & 0x807fffffull) | (uint64_t(120 + (x >> 40) % 16) << 23) : x;
        y = size == 4 ? (y & 0x807fffffull) | (uint64_t(120 + (y >> 40) % 16) << 23) : y;
      }
    }
    appendElement(a, size, x);
    appendElement(b, size, y);
  }
}

bool isNanElement(mixcclDataType_t dt, uint64_t bits) {
  switch (dt) {
    case mixcclFloat16: return (bits & 0x7fffu) > 0x7c00u;
    case mixcclBfloat16: return (bits & 0x7fffu) > 0x7f80u;
    case mixcclFloat8e4m3: return (bits & 0x7fu) == 0x7fu;
    case mixcclFloat8e5m2: return (bits & 0x7fu) > 0x7cu;
    case mixcclFloat32: return (bits & 0x7fffffffu) > 0x7f800000u;
    case mixcclFloat64: return (bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    default: return false;
  }
}

long firstDifference(const std::vector<uint8_t>& x, const std::vector<uint8_t>& y, size_t size) {
  for (size_t i = 0; i + size <= x.size() && i + size <= y.size(); i += size) {
    if (std::memcmp(x.data() + i, y.data() + i, size) != 0) return long(i / size);
  }
  return x.size() == y.size() ? -1 : long(std::min(x.size(), y.size()) / size);
}

uint64_t elementBits(const std::vector<uint8_t>& v, size_t i, size_t size) {
  uint64_t bits = 0;
  std::memcpy(&bits, v.data() + i * size, size);
  return bits;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace mixccl::test

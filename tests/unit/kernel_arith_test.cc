// The GPU kernels of src/device/kernels/, built in the portability header's host mode (every thread of the
// grid runs in turn on this CPU), against the CPU backend, bit for bit: a mixed CPU + GPU communicator must get
// identical results (DESIGN.md rule 3). What runs here is the kernels' own source: codecs, operators, the
// x86 NaN rule, head/pack/tail splitting and grid-stride loops. What cannot run here is the GPU's own
// floating-point unit; tests/gpu/ checks that on a device with the same inputs.
//
// Inputs: for fp8 every pair of codes; for half and bf16 every code against random partners plus every pair
// of edge values; for the wider types every pair of edge values (NaN with payloads, Inf, ±0, subnormals,
// largest/smallest, rounding ties) plus random bit patterns. Every dtype x op x divisor, against both of the
// CPU backend's instruction sets.
#include <gtest/gtest.h>

#include <array>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "device/cpu/cpu_reduce.h"
#include "device/cpu/float_formats.h"
#include "device/kernels/gpu_kernels.h"  // kernels::host: built by support/host_kernels.cc
#include "device/kernels/narrow_float_codec.h"
#include "support/reduce_inputs.h"

namespace mixccl {
namespace {

using test::appendElement;
using test::elementBits;
using test::firstDifference;
using test::hex;
using test::isNanElement;
using test::kAllOps;
using test::kAllTypes;
using test::makeReduceInputs;

constexpr uint32_t kDivisors[] = {0, 1, 2, 3, 7, 10, 255, 65536, 0xffffffffu};

// ---- Codecs: kernels' integer rounding against float_formats.h.

struct Codec {
  const char* name;
  int bits;
  float (*cpuDecode)(uint32_t);
  uint32_t (*cpuEncode)(float);
  float (*gpuDecode)(uint32_t);
  uint32_t (*gpuEncode)(float);
};

const Codec kCodecs[] = {
    {"half", 16, [](uint32_t c) { return halfToFloat(uint16_t(c)); },
     [](float f) -> uint32_t { return floatToHalf(f); },
     [](uint32_t c) { return kernels::host::halfToFloat(uint16_t(c)); },
     [](float f) -> uint32_t { return kernels::host::floatToHalf(f); }},
    {"bf16", 16, [](uint32_t c) { return bf16ToFloat(uint16_t(c)); },
     [](float f) -> uint32_t { return floatToBf16(f); },
     [](uint32_t c) { return kernels::host::bf16ToFloat(uint16_t(c)); },
     [](float f) -> uint32_t { return kernels::host::floatToBf16(f); }},
    {"fp8e4m3", 8, [](uint32_t c) { return fp8e4m3ToFloat(uint8_t(c)); },
     [](float f) -> uint32_t { return floatToFp8e4m3(f); },
     [](uint32_t c) { return kernels::host::fp8e4m3ToFloat(uint8_t(c)); },
     [](float f) -> uint32_t { return kernels::host::floatToFp8e4m3(f); }},
    {"fp8e5m2", 8, [](uint32_t c) { return fp8e5m2ToFloat(uint8_t(c)); },
     [](float f) -> uint32_t { return floatToFp8e5m2(f); },
     [](uint32_t c) { return kernels::host::fp8e5m2ToFloat(uint8_t(c)); },
     [](float f) -> uint32_t { return kernels::host::floatToFp8e5m2(f); }},
};

class KernelCodecTest : public ::testing::TestWithParam<const Codec*> {};

TEST_P(KernelCodecTest, DecodesEveryCodeLikeTheCpu) {
  const Codec& c = *GetParam();
  int wrong = 0;
  for (uint32_t code = 0; code < (1u << c.bits); ++code) {
    uint32_t want = std::bit_cast<uint32_t>(c.cpuDecode(code));
    uint32_t got = std::bit_cast<uint32_t>(c.gpuDecode(code));
    if (want != got && ++wrong <= 5)
      ADD_FAILURE() << c.name << " decode " << hex(code) << ": " << hex(got) << " != cpu " << hex(want);
  }
  EXPECT_EQ(wrong, 0);
}

// Every rounding decision there is: for every fp32 exponent and sign, and every bit position s a format may
// round at, mantissas just below, at and just above the midpoint between two neighbours (even and odd
// neighbours, at the bottom and the top of the binade), plus every special and a sparse sweep of all floats.
TEST_P(KernelCodecTest, EncodesEveryRoundingBoundaryLikeTheCpu) {
  const Codec& c = *GetParam();
  int wrong = 0;
  size_t checked = 0;
  auto check = [&](uint32_t bits) {
    ++checked;
    float f = std::bit_cast<float>(bits);
    uint32_t want = c.cpuEncode(f), got = c.gpuEncode(f);
    if (want != got && ++wrong <= 5)
      ADD_FAILURE() << c.name << " encode " << hex(bits) << ": " << hex(got) << " != cpu " << hex(want);
  };
  for (uint32_t sign = 0; sign < 2; ++sign) {
    for (uint32_t exp = 0; exp < 256; ++exp) {
      for (uint32_t s = 1; s <= 23; ++s) {
        uint32_t top = (1u << (23 - s)) - 1;  // largest q at this position
        for (uint32_t q : {0u, 1u, 2u, 3u, top - 2, top - 1, top}) {
          if (q > top) continue;
          uint32_t mid = (q << s) | (1u << (s - 1));
          for (int delta = -2; delta <= 2; ++delta) {
            uint32_t man = (mid + uint32_t(delta)) & 0x7fffffu;
            check(sign << 31 | exp << 23 | man);
          }
        }
      }
      check(sign << 31 | exp << 23);
      check(sign << 31 | exp << 23 | 0x7fffffu);
    }
  }
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 997) check(uint32_t(bits));  // ~4.3 M, every exponent
  std::mt19937 rng(5);
  for (int i = 0; i < 1000000; ++i) check(rng());
  EXPECT_EQ(wrong, 0) << "of " << checked;
}

INSTANTIATE_TEST_SUITE_P(Formats, KernelCodecTest,
                         ::testing::Values(&kCodecs[0], &kCodecs[1], &kCodecs[2], &kCodecs[3]),
                         [](const auto& info) { return std::string(info.param->name); });

const char* isaName(CpuIsa isa) { return cpuIsaName(isa); }

std::vector<CpuIsa> supportedIsas() {
  std::vector<CpuIsa> isas = {CpuIsa::kBaseline};
  if (cpuIsaSupported(CpuIsa::kAvx2)) isas.push_back(CpuIsa::kAvx2);
  return isas;
}

// ---- Reduce and post-op, every dtype x op x divisor, against the CPU backend.

class KernelReduceTest : public ::testing::TestWithParam<mixcclDataType_t> {};

// When both operands are NaN, which payload survives is not defined even on the CPU: GCC may swap the operands
// of a commutative + or * (it does in the baseline build and for auto-vectorised float/double), while the AVX2
// intrinsics keep `a` first. The kernels always keep `a`'s; for those elements either operand's NaN is accepted.
TEST_P(KernelReduceTest, MatchesCpuBackendBitwise) {
  const mixcclDataType_t dt = GetParam();
  const size_t size = dataTypeSize(dt);
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  const size_t n = a.size() / size;
  for (CpuIsa isa : supportedIsas()) {
    for (mixcclRedOp_t op : kAllOps) {
      for (uint32_t divisor : kDivisors) {
        ReduceSpec spec{dt, op, divisor};
        std::vector<uint8_t> want(a.size()), swapped(a.size()), got(a.size(), 0xa5);
        cpuReduceWithIsa(isa, want.data(), a.data(), b.data(), n, spec);
        cpuReduceWithIsa(isa, swapped.data(), b.data(), a.data(), n, spec);
        ASSERT_EQ(kernels::host::launchReduce(got.data(), a.data(), b.data(), n, spec, nullptr), 0);
        size_t wrong = 0;
        for (size_t i = 0; i < n; ++i) {
          uint64_t w = elementBits(want, i, size), g = elementBits(got, i, size);
          if (w == g) continue;
          bool bothNan = isNanElement(dt, elementBits(a, i, size)) && isNanElement(dt, elementBits(b, i, size));
          if (bothNan && g == elementBits(swapped, i, size)) continue;
          if (++wrong <= 3) {
            ADD_FAILURE() << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor << " vs cpu " << isaName(isa)
                          << ": element " << i << " a=" << hex(elementBits(a, i, size))
                          << " b=" << hex(elementBits(b, i, size)) << " kernel=" << hex(g) << " cpu=" << hex(w);
          }
        }
        EXPECT_EQ(wrong, 0u) << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor << " of " << n;
      }
    }
  }
}

// The n-input reduce (gpu_ipc's kernel) equals a chain of two-input reduces in rank order, then the post-op.
TEST_P(KernelReduceTest, ReduceNEqualsAChainOfReduces) {
  const mixcclDataType_t dt = GetParam();
  const size_t size = dataTypeSize(dt);
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  const size_t n = a.size() / size;
  for (int inputs : {1, 2, 3, 7, 16}) {
    std::vector<std::vector<uint8_t>> in(inputs);
    std::vector<const void*> ptrs;
    for (int r = 0; r < inputs; ++r) {
      const std::vector<uint8_t>& base = r % 2 == 0 ? a : b;
      in[r].assign(base.begin() + (r * size) % base.size(), base.end());
      in[r].insert(in[r].end(), base.begin(), base.begin() + (r * size) % base.size());
      ptrs.push_back(in[r].data());
    }
    for (mixcclRedOp_t op : kAllOps) {
      for (uint32_t divisor : {0u, 3u}) {
        std::vector<uint8_t> want = in[0], got(a.size(), 0xa5);
        for (int r = 1; r < inputs; ++r) {
          ASSERT_EQ(kernels::host::launchReduce(want.data(), want.data(), in[r].data(), n, {dt, op, 0}, nullptr), 0);
        }
        ASSERT_EQ(kernels::host::launchPostOp(want.data(), want.data(), n, {dt, op, divisor}, nullptr), 0);
        ASSERT_EQ(kernels::host::launchReduceN(got.data(), ptrs.data(), inputs, n, {dt, op, divisor}, nullptr), 0);
        EXPECT_EQ(firstDifference(got, want, size), -1)
            << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor << " with " << inputs << " inputs";
      }
    }
  }
  const void* none[1] = {a.data()};
  EXPECT_EQ(kernels::host::launchReduceN(a.data(), none, 17, 1, {dt, mixcclSum, 0}, nullptr), kernels::kInvalidSpec);
}

TEST_P(KernelReduceTest, ReduceToAllWritesTheReduceNResultIntoEveryOutput) {
  // Three "ranks", each with an input and an output whose addresses are in its four words; a shard [lo, lo+count)
  // of the reduction goes to every output, the rest of each output stays untouched.
  const mixcclDataType_t dt = GetParam();
  const size_t size = dataTypeSize(dt);
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  const size_t n = a.size() / size, count = n / 2;
  const int ranks = 3;
  std::vector<std::vector<uint8_t>> in{a, b, a}, out(ranks, std::vector<uint8_t>(a.size(), 0xa5));
  std::vector<const void*> ptrs;
  std::vector<std::array<uint32_t, 4>> words(ranks);
  std::vector<const uint32_t*> table;
  for (int r = 0; r < ranks; ++r) {
    ptrs.push_back(in[r].data());
    const uint64_t send = reinterpret_cast<uintptr_t>(in[r].data()), recv = reinterpret_cast<uintptr_t>(out[r].data());
    words[r] = {uint32_t(send), uint32_t(send >> 32), uint32_t(recv), uint32_t(recv >> 32)};
    table.push_back(words[r].data());
  }
  // lo = 0: every buffer on a 16-byte boundary (heap blocks are), so the shard moves in packs and a tail; lo = 32
  // also (in bytes a multiple of 16); lo = n / 3 + 1: mostly element by element.
  for (size_t lo : {size_t(0), size_t(32), n / 3 + 1}) {
    for (mixcclRedOp_t op : kAllOps) {
      for (uint32_t divisor : {0u, 3u}) {
        std::vector<uint8_t> want(a.size(), 0xa5);
        ASSERT_EQ(kernels::host::launchReduceN(want.data(), ptrs.data(), ranks, n, {dt, op, divisor}, nullptr), 0);
        for (auto& o : out) std::fill(o.begin(), o.end(), 0xa5);
        ASSERT_EQ(kernels::host::launchReduceToAll(table.data(), ranks, lo, count, {dt, op, divisor}, nullptr), 0);
        for (int r = 0; r < ranks; ++r) {
          for (size_t i = 0; i < n; ++i) {
            const bool inShard = i >= lo && i < lo + count;
            const uint8_t* got = out[r].data() + i * size;
            const std::vector<uint8_t> untouched(size, 0xa5);
            const uint8_t* expect = inShard ? want.data() + i * size : untouched.data();
            ASSERT_EQ(std::memcmp(got, expect, size), 0) << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor
                                                         << " output " << r << " element " << i << " lo " << lo;
          }
        }
      }
    }
  }
  EXPECT_EQ(kernels::host::launchReduceToAll(table.data(), 17, 0, 1, {dt, mixcclSum, 0}, nullptr),
            kernels::kInvalidSpec);
}

TEST_P(KernelReduceTest, PostOpMatchesCpuBackendBitwise) {
  const mixcclDataType_t dt = GetParam();
  const size_t size = dataTypeSize(dt);
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  const size_t n = a.size() / size;
  for (uint32_t divisor : kDivisors) {
    ReduceSpec spec{dt, mixcclSum, divisor};
    std::vector<uint8_t> want(a.size()), got(a.size(), 0xa5);
    cpuPostOp(want.data(), a.data(), n, spec);
    ASSERT_EQ(kernels::host::launchPostOp(got.data(), a.data(), n, spec, nullptr), 0);
    long at = firstDifference(want, got, size);
    EXPECT_EQ(at, -1) << dataTypeName(dt) << " post-op /" << divisor << ": element " << at
                      << " src=" << hex(at < 0 ? 0 : elementBits(a, at, size));
    // In place.
    std::vector<uint8_t> inPlace = a;
    ASSERT_EQ(kernels::host::launchPostOp(inPlace.data(), inPlace.data(), n, spec, nullptr), 0);
    EXPECT_EQ(inPlace, want) << dataTypeName(dt) << " in-place post-op /" << divisor;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KernelReduceTest, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

// ---- Grid shapes, lengths, alignments and aliasing: the head/pack/tail split and the grid-stride loops.

struct Layout {
  size_t offDst, offA, offB;  // in elements, from 16-byte aligned bases
};

TEST(KernelLaunch, EveryShapeLengthAndAlignmentCoversEachElementOnce) {
  const kernels::LaunchShape shapes[] = {{1, 1}, {1, 7}, {3, 5}, {2, 64}, {0, 0}};
  const size_t lengths[] = {0, 1, 2, 15, 16, 17, 33, 100, 1023};
  const Layout layouts[] = {{0, 0, 0}, {1, 1, 1}, {3, 3, 3}, {0, 1, 2}, {1, 0, 0}, {5, 5, 0}};
  constexpr size_t kGuard = 64;
  for (mixcclDataType_t dt : {mixcclInt8, mixcclFloat16, mixcclFloat32, mixcclFloat64, mixcclFloat8e5m2}) {
    const size_t size = dataTypeSize(dt);
    std::mt19937 rng(17);
    for (size_t n : lengths) {
      for (const Layout& lay : layouts) {
        for (const auto& shape : shapes) {
          ReduceSpec spec{dt, mixcclSum, 3};
          // Small integers: exact in every type.
          std::vector<uint8_t> a, b;
          for (size_t i = 0; i < n + 8; ++i) {
            uint64_t x = rng() % 8, y = rng() % 8;
            if (dt == mixcclFloat16) {
              x = floatToHalf(float(x));
              y = floatToHalf(float(y));
            }
            if (dt == mixcclFloat32) {
              x = std::bit_cast<uint32_t>(float(x));
              y = std::bit_cast<uint32_t>(float(y));
            }
            if (dt == mixcclFloat64) {
              x = std::bit_cast<uint64_t>(double(x));
              y = std::bit_cast<uint64_t>(double(y));
            }
            if (dt == mixcclFloat8e5m2) {
              x = floatToFp8e5m2(float(x));
              y = floatToFp8e5m2(float(y));
            }
            appendElement(a, size, x);
            appendElement(b, size, y);
          }
          // Buffers from a 16-byte aligned allocation, shifted by the layout's offsets.
          std::vector<uint64_t> memA((n + 8) * size / 8 + 4), memB(memA.size()), memD(memA.size() + 2 * kGuard / 8);
          uint8_t* pa = reinterpret_cast<uint8_t*>(memA.data()) + lay.offA * size;
          uint8_t* pb = reinterpret_cast<uint8_t*>(memB.data()) + lay.offB * size;
          std::memcpy(pa, a.data(), n * size);
          std::memcpy(pb, b.data(), n * size);
          std::memset(memD.data(), 0x5a, memD.size() * 8);
          uint8_t* pd = reinterpret_cast<uint8_t*>(memD.data()) + kGuard + lay.offDst * size;
          std::vector<uint8_t> want(n * size + 1);
          cpuReduce(want.data(), pa, pb, n, spec);
          ASSERT_EQ(kernels::host::launchReduce(pd, pa, pb, n, spec, nullptr, shape), 0);
          EXPECT_EQ(std::memcmp(pd, want.data(), n * size), 0)
              << dataTypeName(dt) << " n=" << n << " offsets " << lay.offDst << "," << lay.offA << "," << lay.offB
              << " grid " << shape.blocks << "x" << shape.threads;
          const uint8_t* base = reinterpret_cast<const uint8_t*>(memD.data());
          for (const uint8_t* g = base; g < pd; ++g) ASSERT_EQ(*g, 0x5a) << "write before dst";
          for (const uint8_t* g = pd + n * size; g < base + memD.size() * 8; ++g)
            ASSERT_EQ(*g, 0x5a) << "write after dst";

          // Aliasing: dst == a, then dst == b.
          ASSERT_EQ(kernels::host::launchReduce(pa, pa, pb, n, spec, nullptr, shape), 0);
          EXPECT_EQ(std::memcmp(pa, want.data(), n * size), 0) << dataTypeName(dt) << " dst == a, n=" << n;
          std::memcpy(pa, a.data(), n * size);
          ASSERT_EQ(kernels::host::launchReduce(pb, pa, pb, n, spec, nullptr, shape), 0);
          EXPECT_EQ(std::memcmp(pb, want.data(), n * size), 0) << dataTypeName(dt) << " dst == b, n=" << n;
        }
      }
    }
  }
}

TEST(KernelLaunch, CopyKernelCopiesEveryByteAndNothingElse) {
  std::mt19937 rng(3);
  std::vector<uint8_t> src(4096 + 64);
  for (auto& v : src) v = uint8_t(rng());
  for (size_t bytes : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(100), size_t(4096)}) {
    for (size_t offS : {0, 1, 7}) {
      for (size_t offD : {0, 1, 9}) {
        for (kernels::LaunchShape shape :
             {kernels::LaunchShape{1, 1}, kernels::LaunchShape{3, 5}, kernels::LaunchShape{}}) {
          std::vector<uint64_t> mem((4096 + 128) / 8, 0x5a5a5a5a5a5a5a5aull);
          uint8_t* dst = reinterpret_cast<uint8_t*>(mem.data()) + 16 + offD;
          ASSERT_EQ(kernels::host::launchCopy(dst, src.data() + offS, bytes, nullptr, shape), 0);
          EXPECT_EQ(std::memcmp(dst, src.data() + offS, bytes), 0)
              << bytes << " bytes, offsets " << offS << "," << offD;
          const uint8_t* base = reinterpret_cast<const uint8_t*>(mem.data());
          for (const uint8_t* g = base; g < dst; ++g) ASSERT_EQ(*g, 0x5a);
          for (const uint8_t* g = dst + bytes; g < base + mem.size() * 8; ++g) ASSERT_EQ(*g, 0x5a);
        }
      }
    }
  }
}

TEST(KernelLaunch, InvalidSpecIsReportedNotLaunched) {
  uint8_t x[4] = {};
  EXPECT_EQ(kernels::host::launchReduce(x, x, x, 4, ReduceSpec{mixcclNumTypes, mixcclSum, 0}, nullptr),
            kernels::kInvalidSpec);
  EXPECT_EQ(kernels::host::launchReduce(x, x, x, 4, ReduceSpec{mixcclInt8, mixcclAvg, 0}, nullptr),
            kernels::kInvalidSpec);
  EXPECT_EQ(kernels::host::launchPostOp(x, x, 4, ReduceSpec{mixcclNumTypes, mixcclSum, 3}, nullptr),
            kernels::kInvalidSpec);
}

}  // namespace
}  // namespace mixccl

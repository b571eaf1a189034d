// The GPU backends (CUDA, HIP) on real device memory, each against the CPU backend, bit for bit. Without a
// usable device (or in a build without that backend) every test prints the runtime's reason and is skipped,
// so this file runs, visibly skipped, on every CI machine. tests/gpu/run.sh runs it on a GPU machine.
#include "device/gpu_backend.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "device/cpu/cpu_reduce.h"
#include "support/reduce_inputs.h"
#ifdef MIXCCL_TEST_WHOLE_SM_KERNEL
#include "gpu/whole_sm_kernel.h"
#endif

namespace mixccl {
namespace {

using test::elementBits;
using test::hex;
using test::isNanElement;
using test::kAllOps;
using test::kAllTypes;
using test::makeReduceInputs;

constexpr uint32_t kDivisors[] = {0, 3, 7, 65536};

// Environment of the child process of the IPC test: the exported handle, in hex.
constexpr const char* kIpcHandleEnv = "MIXCCL_TEST_IPC_HANDLE";
constexpr const char* kIpcTypeEnv = "MIXCCL_TEST_IPC_TYPE";
constexpr size_t kIpcBytes = 1 << 20;

std::string typeName(MemoryType t) { return memoryTypeName(t); }

}  // namespace

// How GoogleTest prints a parameter (test names in ctest then read "cuda"/"hip", not bytes).
void PrintTo(MemoryType t, std::ostream* os) { *os << memoryTypeName(t); }

namespace {

class GpuBackendTest : public ::testing::TestWithParam<MemoryType> {
 protected:
  void SetUp() override {
    std::string reason;
    be_ = gpuBackend(GetParam(), &reason);
    if (be_ == nullptr) {
      // On a GPU machine (tests/gpu/run.sh sets MIXCCL_TEST_REQUIRE_GPU=cuda) a missing backend is a failure.
      const char* required = std::getenv("MIXCCL_TEST_REQUIRE_GPU");
      if (required != nullptr && std::strstr(required, memoryTypeName(GetParam())) != nullptr) {
        FAIL() << memoryTypeName(GetParam()) << " backend required (MIXCCL_TEST_REQUIRE_GPU) but unavailable: "
               << reason;
      }
      std::printf("[  SKIP    ] %s backend unavailable: %s\n", memoryTypeName(GetParam()), reason.c_str());
      GTEST_SKIP() << memoryTypeName(GetParam()) << ": " << reason;
    }
  }

  // Device buffer holding `host`, freed at the end of the test.
  void* upload(const std::vector<uint8_t>& host) {
    void* d = nullptr;
    EXPECT_EQ(be_->allocDevice(host.size(), &d), mixcclSuccess);
    EXPECT_EQ(be_->copyAsync(d, host.data(), host.size(), nullptr), mixcclSuccess);
    owned_.push_back(d);
    return d;
  }
  // A new stream, a pinned flag holding `value` and a device buffer of `bytes` zeros, all ready; the caller destroys
  // the stream and frees the flag.
  struct Flagged {
    void* stream = nullptr;
    void* flagMem = nullptr;
    uint32_t* flag = nullptr;
    void* dev = nullptr;
  };
  Flagged flagAndZeros(uint32_t value, size_t bytes) {
    Flagged f;
    EXPECT_EQ(be_->streamCreate(&f.stream), mixcclSuccess);
    EXPECT_EQ(be_->allocPinned(sizeof(uint32_t), &f.flagMem), mixcclSuccess);
    f.flag = static_cast<uint32_t*>(f.flagMem);
    __atomic_store_n(f.flag, value, __ATOMIC_RELEASE);
    f.dev = upload(std::vector<uint8_t>(bytes, 0));
    EXPECT_EQ(be_->streamSynchronize(nullptr), mixcclSuccess);
    return f;
  }
  std::vector<uint8_t> download(const void* d, size_t bytes, void* stream = nullptr) {
    std::vector<uint8_t> host(bytes);
    EXPECT_EQ(be_->copyAsync(host.data(), d, bytes, stream), mixcclSuccess);
    EXPECT_EQ(be_->streamSynchronize(stream), mixcclSuccess);
    return host;
  }
  void TearDown() override {
    for (void* p : owned_) EXPECT_EQ(be_->freeDevice(p), mixcclSuccess);
    if (be_ != nullptr) {
      EXPECT_EQ(be_->stickyError(), mixcclSuccess);
    }
  }

  GpuBackend* be_ = nullptr;
  std::vector<void*> owned_;
};

TEST(GpuProbe, EveryBackendIsUsableOrSaysWhy) {
  for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
    std::string reason;
    GpuBackend* be = gpuBackend(t, &reason);
    if (be == nullptr) {
      std::printf("[  INFO    ] %s: %s\n", memoryTypeName(t), reason.c_str());
      EXPECT_FALSE(reason.empty());
    } else {
      std::printf("[  INFO    ] %s: %d device(s)\n", memoryTypeName(t), be->deviceCount());
      EXPECT_GT(be->deviceCount(), 0);
      EXPECT_EQ(be->memoryType(), t);
    }
  }
  std::string reason;
  EXPECT_EQ(gpuBackend(MemoryType::kHost, &reason), nullptr);
  EXPECT_FALSE(reason.empty());
  // Host memory is host memory whatever is built.
  std::vector<int> host(4);
  PointerInfo info;
  ASSERT_EQ(queryMemoryType(host.data(), &info), mixcclSuccess);
  EXPECT_EQ(info.type, MemoryType::kHost);
  EXPECT_FALSE(info.pinned);
}

TEST_P(GpuBackendTest, ReduceMatchesCpuBackendBitwise) {
  for (mixcclDataType_t dt : kAllTypes) {
    const size_t size = dataTypeSize(dt);
    std::vector<uint8_t> a, b;
    makeReduceInputs(dt, a, b);
    const size_t n = a.size() / size;
    void* da = upload(a);
    void* db = upload(b);
    void* dd = upload(std::vector<uint8_t>(a.size(), 0xa5));
    for (mixcclRedOp_t op : kAllOps) {
      for (uint32_t divisor : kDivisors) {
        ReduceSpec spec{dt, op, divisor};
        std::vector<uint8_t> want(a.size()), swapped(a.size());
        cpuReduce(want.data(), a.data(), b.data(), n, spec);
        cpuReduce(swapped.data(), b.data(), a.data(), n, spec);
        ASSERT_EQ(be_->reduceAsync(dd, da, db, n, spec, nullptr), mixcclSuccess);
        std::vector<uint8_t> got = download(dd, a.size());
        size_t wrong = 0;
        for (size_t i = 0; i < n; ++i) {
          uint64_t w = elementBits(want, i, size), g = elementBits(got, i, size);
          if (w == g) continue;
          // Two NaN operands: either payload (see kernel_arith_test.cc).
          bool bothNan = isNanElement(dt, elementBits(a, i, size)) && isNanElement(dt, elementBits(b, i, size));
          if (bothNan && g == elementBits(swapped, i, size)) continue;
          if (++wrong <= 3) {
            ADD_FAILURE() << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor << " element " << i
                          << " a=" << hex(elementBits(a, i, size)) << " b=" << hex(elementBits(b, i, size))
                          << " gpu=" << hex(g) << " cpu=" << hex(w);
          }
        }
        EXPECT_EQ(wrong, 0u) << dataTypeName(dt) << " " << redOpName(op) << " /" << divisor;
      }
    }
    // Post-op, out of place and in place.
    for (uint32_t divisor : kDivisors) {
      ReduceSpec spec{dt, mixcclSum, divisor};
      std::vector<uint8_t> want(a.size());
      cpuPostOp(want.data(), a.data(), n, spec);
      ASSERT_EQ(be_->postOpAsync(dd, da, n, spec, nullptr), mixcclSuccess);
      EXPECT_EQ(download(dd, a.size()), want) << dataTypeName(dt) << " post-op /" << divisor;
    }
  }
}

TEST_P(GpuBackendTest, ReduceToAllWritesTheReduceNResultIntoEveryOutput) {
  // Three "ranks" on this device: inputs and outputs in device memory, their addresses in device words written on
  // the stream (as gpu_ipc's direct rounds do); a shard of the n-input reduction lands in every output.
  const mixcclDataType_t dt = mixcclFloat32;
  const size_t n = 100003, lo = 1000, count = 50000, bytes = n * 4;
  const int ranks = 3;
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  a.resize(bytes, 0x3f);
  b.resize(bytes, 0x40);
  void* in[ranks] = {upload(a), upload(b), upload(a)};
  void* out[ranks];
  for (void*& o : out) o = upload(std::vector<uint8_t>(bytes, 0xa5));
  void* words = upload(std::vector<uint8_t>(ranks * 16, 0));
  const uint32_t* table[ranks];
  for (int r = 0; r < ranks; ++r) {
    auto* w = static_cast<uint32_t*>(words) + 4 * r;
    const uint64_t send = reinterpret_cast<uintptr_t>(in[r]), recv = reinterpret_cast<uintptr_t>(out[r]);
    const uint32_t values[4] = {uint32_t(send), uint32_t(send >> 32), uint32_t(recv), uint32_t(recv >> 32)};
    for (int k = 0; k < 4; ++k) ASSERT_EQ(be_->streamWriteFlag(nullptr, w + k, values[k]), mixcclSuccess);
    table[r] = w;
  }
  const ReduceSpec spec{dt, mixcclSum, 0};
  const void* srcs[ranks] = {in[0], in[1], in[2]};
  void* all = upload(std::vector<uint8_t>(bytes, 0xa5));
  ASSERT_EQ(be_->reduceNAsync(all, srcs, ranks, n, spec, nullptr), mixcclSuccess);
  ASSERT_EQ(be_->reduceToAllAsync(table, ranks, lo, count, spec, nullptr), mixcclSuccess);
  const std::vector<uint8_t> want = download(all, bytes);
  for (int r = 0; r < ranks; ++r) {
    const std::vector<uint8_t> got = download(out[r], bytes);
    EXPECT_TRUE(std::equal(got.begin() + lo * 4, got.begin() + (lo + count) * 4, want.begin() + lo * 4))
        << "output " << r << ": the shard differs from the n-input reduce";
    EXPECT_TRUE(std::all_of(got.begin(), got.begin() + lo * 4, [](uint8_t v) { return v == 0xa5; }) &&
                std::all_of(got.begin() + (lo + count) * 4, got.end(), [](uint8_t v) { return v == 0xa5; }))
        << "output " << r << ": written outside the shard";
  }
}

// The fused kernels' arguments of "rank" r of two, round `seq`: the flag words of `flags` (0-1 arrivals, 2-3
// gathered, 4-5 done, 8-15 address words, from word 16 a block count per rank) and the ranks' `slots`.
kernels::FusedArgs twoRankFusedArgs(kernels::FusedKind kind, int r, uint32_t seq, size_t count, const void* send,
                                    void* recv, void* const* slots, uint32_t* flags) {
  kernels::FusedArgs args;
  args.kind = kind;
  args.send = send;
  args.recv = recv;
  for (int q = 0; q < 2; ++q) {
    args.slots[q] = slots[q];
    args.arrive[q] = flags + q;
    args.done[q] = flags + 4 + q;
    args.words[q] = flags + 8 + 4 * q;
  }
  args.gathered = flags + 2 + r;
  args.blocksOut = reinterpret_cast<uint64_t*>(flags + 16) + r;
  args.seq = seq;
  args.n = 2;
  args.me = r;
  args.count = count;
  return args;
}

// The fused kernels of two "ranks" on two streams of this device meet inside the kernels (each waits for the
// other's arrival flag) and both write the n-input reduction of the two inputs; twice, the second round in place and
// reusing the first's flags at the next sequence number. The one-shot kernel on 3001 floats; the direct kernel on
// 4 Mi + 3 floats, with as many blocks as the device lets each rank have.
TEST_P(GpuBackendTest, FusedKernelsOfTwoRanksMeetAcrossStreams) {
  for (kernels::FusedKind kind : {kernels::FusedKind::kOneShot, kernels::FusedKind::kDirect}) {
    const bool direct = kind == kernels::FusedKind::kDirect;
    const mixcclDataType_t dt = mixcclFloat32;
    const size_t count = direct ? (size_t(1) << 22) + 3 : 3001, bytes = count * 4;
    const int ranks = 2;
    std::vector<uint8_t> a, b;
    makeReduceInputs(dt, a, b);
    a.resize(bytes, 0x3f);
    b.resize(bytes, 0x40);
    void* in[ranks] = {upload(a), upload(b)};
    void* out[ranks] = {upload(std::vector<uint8_t>(bytes, 0xa5)), upload(std::vector<uint8_t>(bytes, 0xa5))};
    void* slot[ranks] = {upload(std::vector<uint8_t>(direct ? 16 : bytes, 0)),
                         upload(std::vector<uint8_t>(direct ? 16 : bytes, 0))};
    auto* flags = static_cast<uint32_t*>(upload(std::vector<uint8_t>(80, 0)));
    const ReduceSpec spec{dt, mixcclSum, 0};
    const void* srcs[ranks] = {in[0], in[1]};
    void* all = upload(std::vector<uint8_t>(bytes, 0xa5));
    ASSERT_EQ(be_->reduceNAsync(all, srcs, ranks, count, spec, nullptr), mixcclSuccess);
    const void* twice[ranks] = {all, all};
    void* all2 = upload(std::vector<uint8_t>(bytes, 0xa5));
    ASSERT_EQ(be_->reduceNAsync(all2, twice, ranks, count, spec, nullptr), mixcclSuccess);
    const std::vector<uint8_t> want[2] = {download(all, bytes), download(all2, bytes)};
    void* streams[ranks] = {};
    for (void*& st : streams) ASSERT_EQ(be_->streamCreate(&st), mixcclSuccess);
    for (uint32_t seq = 1; seq <= 2; ++seq) {
      for (int r = 0; r < ranks; ++r) {
        const kernels::FusedArgs args =
            twoRankFusedArgs(kind, r, seq, count, seq == 1 ? in[r] : out[r], out[r], slot, flags);
        ASSERT_EQ(be_->fusedAsync(args, spec, streams[r]), mixcclSuccess);
      }
      for (void* st : streams) ASSERT_EQ(be_->streamSynchronize(st), mixcclSuccess);
      // The second round reduces the first's outputs, each the reduction of the inputs: reduceN(all, all).
      for (int r = 0; r < ranks; ++r) {
        const long at = test::firstDifference(download(out[r], bytes), want[seq - 1], 4);
        EXPECT_EQ(at, -1) << (direct ? "direct" : "one-shot") << " round " << seq << ", rank " << r << ": element "
                          << at << " differs from reduce-n";
      }
      const std::vector<uint8_t> state = download(flags, 80);
      uint32_t words[20];
      std::memcpy(words, state.data(), sizeof(words));
      EXPECT_TRUE(words[2] == seq && words[3] == seq) << "gathered flags " << words[2] << ", " << words[3];
      if (direct) {
        EXPECT_TRUE(words[4] == seq && words[5] == seq) << "done flags " << words[4] << ", " << words[5];
        EXPECT_TRUE(words[16] == 0 && words[17] == 0 && words[18] == 0 && words[19] == 0)
            << "the block counts are not back at zero after round " << seq;
      }
    }
    for (void* st : streams) EXPECT_EQ(be_->streamDestroy(st), mixcclSuccess);
  }
}

// A kernel queued ahead of a rank's fused direct round, whose every block needs a whole multiprocessor (as a large
// GEMM's may), must still run while the other rank's kernel of that round waits inside the GPU: the ranks' blocks
// leave a multiprocessor free (kernels/fused_direct_kernel.h). Rank 1's round is launched first and left waiting;
// then rank 0's stream gets twice as many whole-multiprocessor blocks as the device has multiprocessors, and its
// own round. Both must finish, exactly. A deadlock cannot be undone from the host (the GPU work cannot be
// cancelled), so after 20 s the test says so and ends the process. With two ranks, rank 1's blocks take at most
// half the multiprocessors: this catches a launcher that gives a rank them all, not the loss of the one left free
// for other work (that needs the application's own kernels resident beside the ranks').
TEST_P(GpuBackendTest, FusedDirectRoundLetsAKernelNeedingAWholeMultiprocessorRunAhead) {
#ifndef MIXCCL_TEST_WHOLE_SM_KERNEL
  GTEST_SKIP() << "the whole-multiprocessor kernel (tests/gpu/whole_sm_kernel.cu) is built with the CUDA backend only";
#else
  if (GetParam() != MemoryType::kCuda) GTEST_SKIP() << "the whole-multiprocessor kernel is CUDA code";
  std::string why;
  const int sms = test::wholeSmMultiprocessors(&why);
  ASSERT_GT(sms, 0) << why;
  const auto kind = kernels::FusedKind::kDirect;
  const mixcclDataType_t dt = mixcclFloat32;
  const size_t count = (size_t(1) << 22) + 3, bytes = count * 4;
  std::vector<uint8_t> a, b;
  makeReduceInputs(dt, a, b);
  a.resize(bytes, 0x3f);
  b.resize(bytes, 0x40);
  void* in[2] = {upload(a), upload(b)};
  void* out[2] = {upload(std::vector<uint8_t>(bytes, 0xa5)), upload(std::vector<uint8_t>(bytes, 0xa5))};
  void* slot[2] = {upload(std::vector<uint8_t>(16, 0)), upload(std::vector<uint8_t>(16, 0))};
  auto* flags = static_cast<uint32_t*>(upload(std::vector<uint8_t>(80, 0)));
  auto* ran = static_cast<unsigned*>(upload(std::vector<uint8_t>(sizeof(unsigned), 0)));
  const ReduceSpec spec{dt, mixcclSum, 0};
  const void* srcs[2] = {in[0], in[1]};
  void* all = upload(std::vector<uint8_t>(bytes, 0xa5));
  ASSERT_EQ(be_->reduceNAsync(all, srcs, 2, count, spec, nullptr), mixcclSuccess);
  const std::vector<uint8_t> want = download(all, bytes);
  void* streams[2] = {};
  void* ends[2] = {};
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(be_->streamCreate(&streams[r]), mixcclSuccess);
    ASSERT_EQ(be_->eventCreate(&ends[r]), mixcclSuccess);
  }
  ASSERT_EQ(be_->fusedAsync(twoRankFusedArgs(kind, 1, 1, count, in[1], out[1], slot, flags), spec, streams[1]),
            mixcclSuccess);
  // Rank 1's kernel is resident once its arrival flag (word 1) is set, read on a third stream.
  void* look = nullptr;
  ASSERT_EQ(be_->streamCreate(&look), mixcclSuccess);
  bool resident = false;
  for (int i = 0; i < 5000 && !resident; ++i) {
    uint32_t arrived = 0;
    std::memcpy(&arrived, download(flags + 1, sizeof(uint32_t), look).data(), sizeof(uint32_t));
    resident = arrived == 1;
    if (!resident) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(be_->streamDestroy(look), mixcclSuccess);
  ASSERT_TRUE(resident) << "rank 1's fused kernel did not start within about 5 s";
  const int blockers = 2 * sms;
  ASSERT_TRUE(test::launchWholeSmKernel(streams[0], blockers, 20, ran, &why)) << why;
  ASSERT_EQ(be_->fusedAsync(twoRankFusedArgs(kind, 0, 1, count, in[0], out[0], slot, flags), spec, streams[0]),
            mixcclSuccess);
  for (int r = 0; r < 2; ++r) ASSERT_EQ(be_->eventRecord(ends[r], streams[r]), mixcclSuccess);
  bool done[2] = {false, false};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool queried = true;
  while (queried && !(done[0] && done[1]) && std::chrono::steady_clock::now() < deadline) {
    for (int r = 0; r < 2; ++r) queried &= be_->eventQuery(ends[r], &done[r]) == mixcclSuccess;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(queried) << "an event query failed (see the log)";
  if (!(done[0] && done[1])) {
    std::fprintf(stderr,
                 "DEADLOCK: after 20 s rank 0's stream (%d whole-multiprocessor blocks, then its round) %s, "
                 "rank 1's round %s; ending the process, whose GPU work cannot be cancelled\n",
                 blockers, done[0] ? "finished" : "did not finish", done[1] ? "finished" : "did not finish");
    std::fflush(stderr);
    std::_Exit(1);
  }
  for (int r = 0; r < 2; ++r) {
    const long at = test::firstDifference(download(out[r], bytes), want, 4);
    EXPECT_EQ(at, -1) << "rank " << r << ": element " << at << " differs from reduce-n";
  }
  unsigned blocksRan = 0;
  std::memcpy(&blocksRan, download(ran, sizeof(unsigned)).data(), sizeof(unsigned));
  EXPECT_EQ(blocksRan, unsigned(blockers)) << "blocks of the whole-multiprocessor kernel that ran";
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(be_->eventDestroy(ends[r]), mixcclSuccess);
    EXPECT_EQ(be_->streamDestroy(streams[r]), mixcclSuccess);
  }
#endif
}

TEST_P(GpuBackendTest, OddLengthsOffsetsAndAliasing) {
  const size_t lengths[] = {1, 15, 17, 1000, 1 << 20, (1 << 22) + 3};
  for (mixcclDataType_t dt : {mixcclInt8, mixcclFloat16, mixcclFloat32, mixcclFloat64}) {
    const size_t size = dataTypeSize(dt);
    for (size_t n : lengths) {
      for (size_t off : {size_t(0), size_t(1), size_t(3)}) {
        std::vector<uint8_t> a((n + 4) * size), b((n + 4) * size);
        for (size_t i = 0; i < a.size(); ++i) {
          a[i] = uint8_t(i * 7 + 1) & 0x3f;  // bytes whose every type is finite
          b[i] = uint8_t(i * 13 + 5) & 0x3f;
        }
        ReduceSpec spec{dt, mixcclSum, 3};
        std::vector<uint8_t> want(n * size);
        cpuReduce(want.data(), a.data() + off * size, b.data() + off * size, n, spec);
        uint8_t* da = static_cast<uint8_t*>(upload(a));
        uint8_t* db = static_cast<uint8_t*>(upload(b));
        // dst at another offset than a and b: the element-wise path; dst == a: the packed path, in place.
        uint8_t* dd = static_cast<uint8_t*>(upload(std::vector<uint8_t>((n + 4) * size)));
        ASSERT_EQ(be_->reduceAsync(dd + ((off + 1) % 4) * size, da + off * size, db + off * size, n, spec, nullptr),
                  mixcclSuccess);
        EXPECT_EQ(download(dd + ((off + 1) % 4) * size, n * size), want) << dataTypeName(dt) << " n=" << n;
        ASSERT_EQ(be_->reduceAsync(da + off * size, da + off * size, db + off * size, n, spec, nullptr), mixcclSuccess);
        EXPECT_EQ(download(da + off * size, n * size), want) << dataTypeName(dt) << " in place, n=" << n;
      }
    }
  }
}

TEST_P(GpuBackendTest, CopiesEveryDirectionAndTheCopyKernel) {
  const size_t bytes = (8 << 20) + 5;
  std::vector<uint8_t> src(bytes);
  for (size_t i = 0; i < bytes; ++i) src[i] = uint8_t(i * 31 + 7);
  void* pinned = nullptr;
  ASSERT_EQ(be_->allocPinned(bytes, &pinned), mixcclSuccess);
  std::memcpy(pinned, src.data(), bytes);
  void* d1 = nullptr;
  void* d2 = nullptr;
  ASSERT_EQ(be_->allocDevice(bytes + 16, &d1), mixcclSuccess);
  ASSERT_EQ(be_->allocDevice(bytes + 16, &d2), mixcclSuccess);
  owned_.push_back(d1);
  owned_.push_back(d2);
  void* stream = nullptr;
  ASSERT_EQ(be_->streamCreate(&stream), mixcclSuccess);
  ASSERT_EQ(be_->copyAsync(d1, pinned, bytes, stream), mixcclSuccess);                               // pinned -> device
  ASSERT_EQ(be_->copyKernelAsync(static_cast<uint8_t*>(d2) + 3, d1, bytes, stream), mixcclSuccess);  // kernel
  EXPECT_EQ(download(static_cast<uint8_t*>(d2) + 3, bytes, stream), src);  // device -> pageable
  std::memset(pinned, 0, bytes);
  ASSERT_EQ(be_->copyAsync(pinned, static_cast<uint8_t*>(d2) + 3, bytes, stream), mixcclSuccess);  // -> pinned
  ASSERT_EQ(be_->streamSynchronize(stream), mixcclSuccess);
  EXPECT_EQ(std::memcmp(pinned, src.data(), bytes), 0);
  // The synchronous DeviceBackend path (default stream).
  be_->copy(d1, src.data(), 1000);
  EXPECT_EQ(download(d1, 1000), std::vector<uint8_t>(src.begin(), src.begin() + 1000));
  EXPECT_EQ(be_->streamDestroy(stream), mixcclSuccess);
  EXPECT_EQ(be_->freePinned(pinned), mixcclSuccess);
}

// Device steps (core/device_steps.h): a kernel reduces device memory with registered host memory (a shared
// mapping, as a transport's slots are) and writes its result into registered host memory.
TEST_P(GpuBackendTest, KernelsLoadAndStoreRegisteredHostMemory) {
  const size_t count = (1 << 20) + 3;
  const size_t bytes = count * sizeof(float);
  void* shared = mmap(nullptr, 2 * bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* in = static_cast<float*>(shared);
  float* out = in + count;
  std::vector<float> local(count);
  for (size_t i = 0; i < count; ++i) {
    in[i] = float(i % 1000);
    local[i] = 0.5f;
  }
  ASSERT_EQ(be_->hostRegister(shared, 2 * bytes), mixcclSuccess);
  std::vector<uint8_t> raw(bytes);
  std::memcpy(raw.data(), local.data(), bytes);
  void* d = upload(raw);
  void* stream = nullptr;
  ASSERT_EQ(be_->streamCreate(&stream), mixcclSuccess);
  const ReduceSpec spec{mixcclFloat32, mixcclSum, 0};
  ASSERT_EQ(be_->reduceAsync(out, d, in, count, spec, stream), mixcclSuccess);
  ASSERT_EQ(be_->streamSynchronize(stream), mixcclSuccess);
  for (size_t i = 0; i < count; i += 4099) ASSERT_EQ(out[i], float(i % 1000) + 0.5f) << "element " << i;
  EXPECT_EQ(out[count - 1], float((count - 1) % 1000) + 0.5f);
  EXPECT_EQ(be_->streamDestroy(stream), mixcclSuccess);
  EXPECT_EQ(be_->hostUnregister(shared), mixcclSuccess);
  munmap(shared, 2 * bytes);
}

TEST_P(GpuBackendTest, PointerQueriesNameMemoryAndDevice) {
  void* d = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(be_->allocDevice(4096, &d), mixcclSuccess);
  owned_.push_back(d);
  ASSERT_EQ(be_->allocPinned(4096, &pinned), mixcclSuccess);
  int dev = -1;
  ASSERT_EQ(be_->currentDevice(&dev), mixcclSuccess);
  PointerInfo info;
  ASSERT_EQ(be_->queryPointer(static_cast<uint8_t*>(d) + 100, &info), mixcclSuccess);
  EXPECT_EQ(info.type, GetParam());
  EXPECT_EQ(info.device, dev);
  ASSERT_EQ(queryMemoryType(d, &info), mixcclSuccess);
  EXPECT_EQ(info.type, GetParam());
  ASSERT_EQ(be_->queryPointer(pinned, &info), mixcclSuccess);
  EXPECT_EQ(info.type, MemoryType::kHost);
  EXPECT_TRUE(info.pinned);
  std::vector<char> pageable(64);
  ASSERT_EQ(be_->queryPointer(pageable.data(), &info), mixcclSuccess);
  EXPECT_EQ(info.type, MemoryType::kHost);
  EXPECT_FALSE(info.pinned);
  EXPECT_EQ(be_->freePinned(pinned), mixcclSuccess);
}

// Stream B waits for an event recorded on stream A after a reduction; B then reads the result.
TEST_P(GpuBackendTest, EventsOrderTwoStreams) {
  const size_t n = 1 << 24;
  std::vector<uint8_t> a(n * 4), b(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float x = float(i % 1000), y = 2.0f;
    std::memcpy(&a[i * 4], &x, 4);
    std::memcpy(&b[i * 4], &y, 4);
  }
  void* da = upload(a);
  void* db = upload(b);
  ASSERT_EQ(be_->streamSynchronize(nullptr), mixcclSuccess);
  void *sa = nullptr, *sb = nullptr, *ev = nullptr;
  ASSERT_EQ(be_->streamCreate(&sa), mixcclSuccess);
  ASSERT_EQ(be_->streamCreate(&sb), mixcclSuccess);
  ASSERT_EQ(be_->eventCreate(&ev), mixcclSuccess);
  ReduceSpec spec{mixcclFloat32, mixcclProd, 0};
  for (int rep = 0; rep < 4; ++rep) ASSERT_EQ(be_->reduceAsync(da, da, db, n, spec, sa), mixcclSuccess);
  ASSERT_EQ(be_->eventRecord(ev, sa), mixcclSuccess);
  ASSERT_EQ(be_->streamWaitEvent(sb, ev), mixcclSuccess);
  std::vector<uint8_t> got = download(da, n * 4, sb);
  bool done = false;
  ASSERT_EQ(be_->eventQuery(ev, &done), mixcclSuccess);
  EXPECT_TRUE(done);
  for (size_t i = 0; i < n; i += 4099) {
    float v;
    std::memcpy(&v, &got[i * 4], 4);
    ASSERT_EQ(v, float(i % 1000) * 16.0f) << i;
  }
  EXPECT_EQ(be_->eventDestroy(ev), mixcclSuccess);
  EXPECT_EQ(be_->streamDestroy(sa), mixcclSuccess);
  EXPECT_EQ(be_->streamDestroy(sb), mixcclSuccess);
}

// streamWaitFlag holds a stream until the host advances the flag, in both ways a stream can wait (a stream
// memory operation, a polling kernel): the work queued behind it has not run while the flag is short.
TEST_P(GpuBackendTest, StreamWaitsForTheHostFlagBothWays) {
  for (const char* mode : {"memop", "kernel"}) {
    setenv("MIXCCL_STREAM_WAIT", mode, 1);
    const std::vector<uint8_t> pattern(4096, 0x3c);
    const auto [stream, flagMem, flag, dev] = flagAndZeros(5, pattern.size());
    void* ev = nullptr;
    ASSERT_EQ(be_->eventCreate(&ev), mixcclSuccess);
    ASSERT_EQ(be_->streamWaitFlag(stream, flag, 7), mixcclSuccess) << mode;
    ASSERT_EQ(be_->copyAsync(dev, pattern.data(), pattern.size(), stream), mixcclSuccess);
    ASSERT_EQ(be_->eventRecord(ev, stream), mixcclSuccess);
    usleep(50000);
    bool done = true;
    ASSERT_EQ(be_->eventQuery(ev, &done), mixcclSuccess);
    EXPECT_FALSE(done) << mode << ": the stream ran past a flag of 5 < 7";
    __atomic_store_n(flag, 7u, __ATOMIC_RELEASE);
    ASSERT_EQ(be_->streamSynchronize(stream), mixcclSuccess) << mode;
    EXPECT_EQ(download(dev, pattern.size(), stream), pattern) << mode;
    EXPECT_EQ(be_->eventDestroy(ev), mixcclSuccess);
    EXPECT_EQ(be_->streamDestroy(stream), mixcclSuccess);
    EXPECT_EQ(be_->freePinned(flagMem), mixcclSuccess);
  }
  unsetenv("MIXCCL_STREAM_WAIT");
}

// device/deferred_free.cc drains the device with deviceSynchronize before a free because, unlike the free's own wait,
// it is taken not to hold up other threads' calls: a stream held at a flag keeps one thread in deviceSynchronize
// while another allocates, creates a stream and copies on it. Bounded: the flag is released after 5 s either way.
TEST_P(GpuBackendTest, DeviceSynchronizeHoldsUpNoOtherThreadsCalls) {
  int device = 0;
  ASSERT_EQ(be_->currentDevice(&device), mixcclSuccess);
  const std::vector<uint8_t> pattern(4096, 0x5a);
  const auto [held, flagMem, flag, dev] = flagAndZeros(0, pattern.size());
  ASSERT_EQ(be_->streamWaitFlag(held, flag, 1), mixcclSuccess);
  std::atomic<bool> synced{false};
  std::thread syncing([&] {
    be_->setDevice(device);
    be_->deviceSynchronize();
    synced.store(true);
  });
  usleep(100000);  // the other thread is in deviceSynchronize now
  std::atomic<bool> others{false};
  void *pinned = nullptr, *other = nullptr;
  std::thread calling([&] {
    be_->setDevice(device);
    if (be_->allocPinned(pattern.size(), &pinned) != mixcclSuccess || be_->streamCreate(&other) != mixcclSuccess) {
      return;
    }
    std::memcpy(pinned, pattern.data(), pattern.size());
    if (be_->copyAsync(dev, pinned, pattern.size(), other) == mixcclSuccess &&
        be_->streamSynchronize(other) == mixcclSuccess) {
      others.store(true);
    }
  });
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!others.load() && std::chrono::steady_clock::now() < giveUp) usleep(1000);
  EXPECT_TRUE(others.load()) << "another thread's allocation, stream and copy waited for the held stream while one "
                                "thread was in deviceSynchronize";
  EXPECT_FALSE(synced.load()) << "deviceSynchronize returned while a stream was held";
  __atomic_store_n(flag, 1u, __ATOMIC_RELEASE);
  syncing.join();
  calling.join();
  EXPECT_TRUE(synced.load());
  EXPECT_EQ(download(dev, pattern.size(), nullptr), pattern);
  if (other != nullptr) {
    EXPECT_EQ(be_->streamDestroy(other), mixcclSuccess);
  }
  EXPECT_EQ(be_->streamDestroy(held), mixcclSuccess);
  EXPECT_EQ(be_->freePinned(pinned), mixcclSuccess);
  EXPECT_EQ(be_->freePinned(flagMem), mixcclSuccess);
}

// IPC: this process exports a device buffer; a fresh process (this binary, exec'd, running only
// GpuIpcChild.ImportsAndWrites) maps it, checks the pattern and writes another one that this process then sees.
TEST_P(GpuBackendTest, IpcExportImportAcrossProcesses) {
  std::vector<uint8_t> pattern(kIpcBytes);
  for (size_t i = 0; i < kIpcBytes; ++i) pattern[i] = uint8_t(i * 3 + 1);
  void* d = upload(pattern);
  ASSERT_EQ(be_->streamSynchronize(nullptr), mixcclSuccess);
  IpcHandle handle;
  ASSERT_EQ(be_->ipcExport(d, &handle), mixcclSuccess);
  std::string hexHandle;
  for (uint8_t byte : handle.bytes) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", byte);
    hexHandle += buf;
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv(kIpcHandleEnv, hexHandle.c_str(), 1);
    setenv(kIpcTypeEnv, memoryTypeName(GetParam()), 1);
    execl("/proc/self/exe", "gpu_backend_test", "--gtest_filter=GpuIpcChild.ImportsAndWrites", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::vector<uint8_t> got = download(d, kIpcBytes);
  for (size_t i = 0; i < kIpcBytes; i += 997) ASSERT_EQ(got[i], uint8_t(~pattern[i])) << i;
}

TEST(GpuIpcChild, ImportsAndWrites) {
  const char* hexHandle = std::getenv(kIpcHandleEnv);
  const char* type = std::getenv(kIpcTypeEnv);
  if (hexHandle == nullptr || type == nullptr) GTEST_SKIP() << "runs only as the child of the IPC test";
  GpuBackend* be = gpuBackend(std::string(type) == "hip" ? MemoryType::kHip : MemoryType::kCuda);
  ASSERT_NE(be, nullptr);
  IpcHandle handle;
  ASSERT_EQ(std::strlen(hexHandle), 2 * IpcHandle::kBytes);
  for (size_t i = 0; i < IpcHandle::kBytes; ++i)
    handle.bytes[i] = uint8_t(std::stoul(std::string(hexHandle + 2 * i, 2), nullptr, 16));
  void* mapped = nullptr;
  ASSERT_EQ(be->ipcImport(handle, &mapped), mixcclSuccess);
  std::vector<uint8_t> got(kIpcBytes);
  ASSERT_EQ(be->copyAsync(got.data(), mapped, kIpcBytes, nullptr), mixcclSuccess);
  ASSERT_EQ(be->streamSynchronize(nullptr), mixcclSuccess);
  std::vector<uint8_t> inverted(kIpcBytes);
  for (size_t i = 0; i < kIpcBytes; ++i) {
    ASSERT_EQ(got[i], uint8_t(i * 3 + 1)) << i;
    inverted[i] = uint8_t(~got[i]);
  }
  // Write through a kernel (the fused paths' way of touching a peer's buffer).
  void* staging = nullptr;
  ASSERT_EQ(be->allocDevice(kIpcBytes, &staging), mixcclSuccess);
  ASSERT_EQ(be->copyAsync(staging, inverted.data(), kIpcBytes, nullptr), mixcclSuccess);
  ASSERT_EQ(be->copyKernelAsync(mapped, staging, kIpcBytes, nullptr), mixcclSuccess);
  ASSERT_EQ(be->streamSynchronize(nullptr), mixcclSuccess);
  EXPECT_EQ(be->ipcClose(mapped), mixcclSuccess);
  EXPECT_EQ(be->freeDevice(staging), mixcclSuccess);
}

INSTANTIATE_TEST_SUITE_P(Vendors, GpuBackendTest, ::testing::Values(MemoryType::kCuda, MemoryType::kHip),
                         [](const auto& info) { return typeName(info.param); });

}  // namespace
}  // namespace mixccl

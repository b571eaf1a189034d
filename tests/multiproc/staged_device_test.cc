// Collectives and point-to-point calls on GPU buffers through the host-staged, stream-ordered path
// (core/device_launch.h): exact results for every collective in and out of place, calls that return before their
// stream has run, groups, a communicator of CPU and GPU ranks with bitwise-identical results (on the emulation also
// CUDA and HIP ranks in one communicator), pre-mul-sum with a scalar in device memory, a lost peer that must not
// leave a stream waiting forever, and finalize/destroy with work still queued. By default the GPU is the host
// emulation (support/emulated_gpu.h, whose streams delay every operation so early reads show); with
// MIXCCL_TEST_REAL_GPU=1 (tests/gpu/run.sh) the same tests run on the device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "engine/coll_args.h"
#include "support/exact_data.h"
#include "support/rank_runner.h"
#include "support/emulated_gpu.h"
#include "support/rank_gpu.h"
#include "support/scoped_env.h"
#include "support/stderr_capture.h"
#include "support/test_gpu.h"

namespace mixccl {
namespace {

// These tests are of the staged path (its ctest runs add gpu_ipc, device steps, pieces or the shared segment by
// environment): where MIXCCL_SHARED_REDUCE is not set, it is pinned off, so that its `auto`, which takes ranks that
// all have a GPU into the shared segment, keeps away whichever default it has.
const bool kStagedPathPinned = setenv("MIXCCL_SHARED_REDUCE", "0", /*overwrite=*/0) == 0;

using testing::initRankComm;
using testing::rankCheck;
using testing::RankGpu;
using testing::runDeviceCollective;
using testing::runRanks;

// The rank counts of the full matrix: MIXCCL_TEST_RANK_COUNTS (e.g. "1 2 4 8": tests/gpu/run.sh puts that many
// ranks on one GPU), else 1, 3 and 4. A malformed list is a failure, not a silent default.
std::vector<int> rankCounts() {
  const char* env = std::getenv("MIXCCL_TEST_RANK_COUNTS");
  if (env == nullptr || env[0] == '\0') return {1, 3, 4};
  std::vector<int> counts;
  std::istringstream in(env);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    long n = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 64) {
      ADD_FAILURE() << "MIXCCL_TEST_RANK_COUNTS=\"" << env << "\": '" << word << "' is not a rank count in 1..64";
      return {};
    }
    counts.push_back(static_cast<int>(n));
  }
  if (counts.empty()) ADD_FAILURE() << "MIXCCL_TEST_RANK_COUNTS=\"" << env << "\" names no rank count";
  return counts;
}

TEST(StagedDevice, EveryCollectiveInAndOutOfPlaceIsExact) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    // What init pinned (gpu_ipc's bounce buffer for host-only calls), before any call.
    const bool emulated = testing::testGpuIsEmulated();
    const size_t pinnedAtInit = emulated ? static_cast<testing::EmulatedGpu&>(*g.gpu()).peakPinnedBytes() : 0;
    int failures = 0;
    for (int coll = 0; coll < 5; ++coll) {
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32}) {
        for (mixcclRedOp_t op : {mixcclSum, mixcclMax, mixcclAvg}) {
          if ((coll == 1 || coll == 3) && op != mixcclSum) continue;  // no reduction: one op is enough
          for (uint64_t count : {7ull, 300001ull}) {
            for (bool inPlace : {false, true}) failures += runDeviceCollective(g, comm, coll, count, dt, op, inPlace, rank, n);
          }
        }
      }
    }
    if (n == 1 && emulated) {
      // One rank: each collective is one device copy on the stream, never a round trip through host staging.
      auto& emu = static_cast<testing::EmulatedGpu&>(*g.gpu());
      failures += rankCheck(emu.peakPinnedBytes() == pinnedAtInit, rank, "a one-rank communicator staged %zu bytes "
                            "through pinned host memory", emu.peakPinnedBytes() - pinnedAtInit) ? 0 : 1;
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  for (int n : rankCounts()) {
    auto result = runRanks(n, body, 300);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

TEST(StagedDevice, ALargeCallIsStagedPieceByPiece) {
  // MIXCCL_STAGED_PIECE_BYTES=64K cuts a 1 MiB all-reduce into 16 pieces, each copied in, run by the proxy and
  // copied back on its own (core/pieces.h), so that the copies overlap the host's work. The whole-buffer staged path
  // is the one under test: gpu_ipc and device steps (which the ctest variants turn on) are off here.
  const testing::ScopedEnv env({{"MIXCCL_STAGED_PIECE_BYTES", "64K"}, {"MIXCCL_GPU_IPC", "0"}, {"MIXCCL_DEVICE_STEPS", "0"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const size_t before =
        testing::testGpuIsEmulated() ? static_cast<testing::EmulatedGpu&>(*g.gpu()).copyCalls() : 0;
    int failures = 0;
    for (bool inPlace : {false, true}) {
      failures += runDeviceCollective(g, comm, 0, 1 << 18, mixcclFloat32, mixcclSum, inPlace, rank, n);
    }
    if (testing::testGpuIsEmulated()) {
      // Per call: 16 copies in and 16 back, plus the test's own upload and download.
      const size_t copies = static_cast<testing::EmulatedGpu&>(*g.gpu()).copyCalls() - before;
      failures += rankCheck(copies >= 2 * 32, rank, "%zu copies for two calls: not staged piece by piece", copies)
                      ? 0
                      : 1;
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, TeardownLogsWhereEachSizeOfStagedJobsSpentItsTime) {
  // At MIXCCL_DEBUG=INFO the proxy logs, per size class, how long its jobs waited for their inputs and ran
  // (core/job_timing.h): 3 staged all-reduces of 8 bytes and 2 of 4 KiB make exactly two classes.
  const testing::ScopedEnv env({{"MIXCCL_DEBUG", "INFO"}, {"MIXCCL_GPU_IPC", "0"}, {"MIXCCL_DEVICE_STEPS", "0"},
                                {"MIXCCL_STAGED_PIECE_BYTES", "0"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = testing::backToBackAllReduces(g, comm, 3, 2, rank, n);
    ok &= testing::backToBackAllReduces(g, comm, 2, 1024, rank, n);
    const std::string err = testing::captureStderr([&] { mixcclCommDestroy(comm); });
    for (const char* want : {"staged jobs of [8 B, 16 B): 3 jobs; inputs landed after ",
                             "staged jobs of [4 KiB, 8 KiB): 2 jobs; inputs landed after "}) {
      ok &= rankCheck(err.find(want) != std::string::npos, rank, "no \"%s\" in: %s", want, err.c_str());
    }
    size_t classes = 0;
    for (size_t at = err.find("staged jobs of"); at != std::string::npos; at = err.find("staged jobs of", at + 1)) {
      ++classes;
    }
    ok &= rankCheck(classes == 2, rank, "%zu size classes logged, not 2: %s", classes, err.c_str());
    return ok ? 0 : 1;
  };
  auto result = runRanks(2, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, CallReturnsBeforeItsStreamRuns) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 4096;
    std::vector<char> in(count * 4), want(count * 4);
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    void* buf = g.upload(in);
    g.sync();
    int device = -1;
    bool bound = mixcclCommDevice(comm, &device) == mixcclSuccess && device >= 0;
    g.closeGate();  // nothing queued after this runs until the gate opens
    const auto start = std::chrono::steady_clock::now();
    bool ok = rankCheck(mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess,
                        rank, "all-reduce failed: %s", mixcclGetLastError(comm));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ok &= rankCheck(bound, rank, "mixcclCommDevice: %s", mixcclGetLastError(comm));
    ok &= rankCheck(took < 2.0, rank, "the call blocked for %.2f s while its stream could not run", took);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    mixcclResult_t async = mixcclInProgress;
    mixcclCommGetAsyncError(comm, &async);
    ok &= rankCheck(async == mixcclSuccess, rank, "async error %d while waiting for the stream", async);
    g.openGate();
    std::vector<char> got = g.download(buf, in.size());
    ok &= rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, rank, "wrong result");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, GroupsAllToAllAndSendRecvAreExact) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 50001;
    const mixcclDataType_t dt = mixcclFloat32;
    bool ok = true;
    // A group of an all-reduce and an all-gather.
    std::vector<char> arIn(count * 4), arWant(count * 4), agIn(count * 4), agWant(count * 4 * n);
    testdata::fillSend(0, arIn.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, arWant.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillSend(1, agIn.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(1, agWant.data(), count, dt, mixcclSum, 0, rank, n);
    void* ar = g.upload(arIn);
    void* agSend = g.upload(agIn);
    void* agRecv = g.alloc(agWant.size());
    ok &= mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclAllReduce(ar, ar, count, dt, mixcclSum, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclAllGather(agSend, agRecv, count, dt, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    ok = rankCheck(ok, rank, "group failed: %s", mixcclGetLastError(comm));
    std::vector<char> got = g.download(ar, arWant.size());
    ok &= rankCheck(testdata::countWrong(got.data(), arWant.data(), dt, count) == 0, rank, "grouped all-reduce wrong");
    got = g.download(agRecv, agWant.size());
    ok &= rankCheck(testdata::countWrong(got.data(), agWant.data(), dt, count * n) == 0, rank,
                    "grouped all-gather wrong");
    // All-to-all: block r of my input goes to rank r.
    std::vector<char> a2aIn(count * 4 * n), a2aWant(count * 4 * n);
    for (int r = 0; r < n; ++r) {
      testdata::fillInput(a2aIn.data() + r * count * 4, false, mixcclSum, dt, rank, n, r * count, count);
      testdata::fillInput(a2aWant.data() + r * count * 4, false, mixcclSum, dt, r, n, rank * count, count);
    }
    void* a2aSend = g.upload(a2aIn);
    void* a2aRecv = g.alloc(a2aWant.size());
    ok &= rankCheck(mixcclAllToAll(a2aSend, a2aRecv, count, dt, comm, g.stream()) == mixcclSuccess, rank,
                    "all-to-all failed: %s", mixcclGetLastError(comm));
    got = g.download(a2aRecv, a2aWant.size());
    ok &= rankCheck(testdata::countWrong(got.data(), a2aWant.data(), dt, count * n) == 0, rank, "all-to-all wrong");
    // A ring of sends and receives in one group.
    ok &= testing::runDeviceSendRecvRing(g, comm, count, dt, rank, n) == 0;
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  for (int n : {2, 4}) {
    auto result = runRanks(n, body);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

// Where a rank of a mixed communicator keeps its buffers: host memory (no GPU opened), or device memory of the
// test's GPU (testGpu), of a CUDA or of a HIP GPU.
enum class RankMemory { kHost, kAnyGpu, kCuda, kHip };

// Rank r of a mixed communicator keeps its buffers where kinds[r % kinds.size()] says. An all-reduce of random
// floats, whose result depends on the order of the additions, must leave the very same bits on every rank; then
// every collective on exact data, in and out of place. Returns the runRanks result of n ranks.
testing::RankRunResult mixedRanksAgree(int n, std::vector<RankMemory> kinds) {
  auto body = [kinds](int rank, int n, const mixcclUniqueId& id) -> int {
    const RankMemory kind = kinds[size_t(rank) % kinds.size()];
    const bool onGpu = kind != RankMemory::kHost;
    const MemoryType vendor = kind == RankMemory::kCuda  ? MemoryType::kCuda
                              : kind == RankMemory::kHip ? MemoryType::kHip
                                                         : testing::kAnyVendor;
    RankGpu g;
    if (onGpu && !g.open(rank, 0, vendor)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    if (vendor != testing::kAnyVendor) {
      PointerInfo info;
      queryMemoryType(g.alloc(64), &info);
      if (!rankCheck(info.type == vendor, rank, "its device memory is of type %d, not %d", int(info.type),
                     int(vendor))) {
        return 1;
      }
    }
    const uint64_t count = 100003;
    std::vector<float> in(count);
    std::mt19937 rng(1234 + rank);
    std::uniform_real_distribution<float> dist(-1000.f, 1000.f);
    for (float& v : in) v = dist(rng);
    std::vector<char> bytes(count * 4);
    std::memcpy(bytes.data(), in.data(), bytes.size());
    std::vector<char> result(count * 4);
    bool ok = true;
    if (onGpu) {
      void* buf = g.upload(bytes);
      ok &= mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess;
      result = g.download(buf, bytes.size());
    } else {
      ok &= mixcclAllReduce(bytes.data(), result.data(), count, mixcclFloat32, mixcclSum, comm, nullptr) ==
            mixcclSuccess;
    }
    ok = rankCheck(ok, rank, "all-reduce failed: %s", mixcclGetLastError(comm));
    // Everyone's result, gathered through host memory (for the GPU ranks, through their proxy).
    std::vector<char> all(bytes.size() * n);
    ok &= rankCheck(mixcclAllGather(result.data(), all.data(), bytes.size(), mixcclUint8, comm, nullptr) ==
                    mixcclSuccess, rank, "all-gather failed: %s", mixcclGetLastError(comm));
    for (int r = 0; r < n; ++r) {
      ok &= rankCheck(std::memcmp(all.data() + r * bytes.size(), result.data(), bytes.size()) == 0, rank,
                      "rank %d's result differs from mine", r);
    }
    int failures = ok ? 0 : 1;
    for (int coll = 0; coll < 5; ++coll) {
      for (bool inPlace : {false, true}) {
        failures += runDeviceCollective(g, comm, coll, 30001, mixcclBfloat16, mixcclSum, inPlace, rank, n, !onGpu);
      }
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  return runRanks(n, body, 120);  // within tests/gpu/run.sh's step, so that a hang is reported with its stacks
}

TEST(StagedDevice, CpuAndGpuRanksOfOneCommunicatorAgreeBitwise) {
  // Odd ranks keep their buffers on the GPU, even ranks in host memory.
  auto result = mixedRanksAgree(4, {RankMemory::kHost, RankMemory::kAnyGpu});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, CpuCudaAndHipRanksOfOneCommunicatorAgreeBitwise) {
  // Issue 5's mixed communicator: host, CUDA and HIP ranks at once (each GPU rank in a process of its own), two of
  // each vendor.
  if (!testing::testGpuIsEmulated()) {
    GTEST_SKIP() << "needs a CUDA and a HIP GPU on one host; runs on the emulated GPUs of both vendors instead";
  }
  auto result = mixedRanksAgree(5, {RankMemory::kHost, RankMemory::kCuda, RankMemory::kHip, RankMemory::kCuda,
                                     RankMemory::kHip});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, PreMulSumReadsItsScalarFromDeviceMemory) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 1001;
    std::vector<char> in(count * 4), sum(count * 4);
    testdata::fillInput(in.data(), true, mixcclSum, mixcclFloat32, rank, n, 0, count);
    testdata::fillReduced(sum.data(), mixcclSum, mixcclFloat32, n, 0, count);
    const float scalar = 0.5f;  // exact: halves of small integers
    std::vector<char> scalarBytes(4);
    std::memcpy(scalarBytes.data(), &scalar, 4);
    void* dscalar = g.upload(scalarBytes);
    void* buf = g.upload(in);
    mixcclRedOp_t op;
    bool ok = rankCheck(mixcclRedOpCreatePreMulSum(&op, dscalar, mixcclFloat32, mixcclScalarDevice, comm) ==
                        mixcclSuccess, rank, "create failed: %s", mixcclGetLastError(comm));
    ok &= rankCheck(mixcclAllReduce(buf, buf, count, mixcclFloat32, op, comm, g.stream()) == mixcclSuccess, rank,
                    "all-reduce failed: %s", mixcclGetLastError(comm));
    ok &= mixcclRedOpDestroy(op, comm) == mixcclSuccess;  // allowed once the call is issued
    std::vector<char> got = g.download(buf, in.size());
    for (uint64_t i = 0; i < count && ok; ++i) {
      float want, have;
      std::memcpy(&want, sum.data() + i * 4, 4);
      std::memcpy(&have, got.data() + i * 4, 4);
      ok = rankCheck(have == want * scalar, rank, "element %llu: %g, want %g", static_cast<unsigned long long>(i),
                     have, want * scalar);
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, LostPeerReleasesTheStreamWithAnAsyncError) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    if (rank == n - 1) _exit(0);  // leaves without taking part
    std::vector<char> in(1 << 20, 1);
    void* buf = g.upload(in);
    const mixcclResult_t res = mixcclAllReduce(buf, buf, in.size(), mixcclUint8, mixcclSum, comm, g.stream());
    // The loss may be known before the call (gpu_ipc's watchdog sees the peer's process exit at once): then the
    // enqueue itself fails, naming it.
    bool ok = rankCheck(res == mixcclSuccess || (res == mixcclRemoteError &&
                                                 std::string(mixcclGetLastError(comm)).find("rank 2") !=
                                                     std::string::npos),
                        rank, "the enqueue failed with %d: %s", res, mixcclGetLastError(comm));
    g.sync();  // must come back: the proxy advances the flag even when the collective fails
    const mixcclResult_t async = testing::awaitAsyncError(comm, 5);
    ok &= rankCheck(async == mixcclRemoteError, rank, "async error %d, want mixcclRemoteError", async);
    mixcclCommAbort(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, AStreamThatNeverReachesTheCallFailsItWithinTheTimeout) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_TIMEOUT", "1", 1);
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    std::vector<char> in(4096, 1);
    void* buf = g.upload(in);
    void* other = g.upload(in);
    g.sync();
    g.closeGate();  // held until after the timeout
    // Point-to-point: staged also where gpu_ipc takes the collectives (whose stream waits have no host-side timeout).
    const int peer = 1 - rank;
    bool ok = mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclSend(buf, in.size(), mixcclUint8, peer, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclRecv(other, in.size(), mixcclUint8, peer, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    const mixcclResult_t async = testing::awaitAsyncError(comm, 5);
    ok &= rankCheck(async == mixcclRemoteError, rank, "async error %d, want mixcclRemoteError", async);
    g.openGate();
    g.sync();  // the stream is released: the failed call advanced the flag
    mixcclCommAbort(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(2, body, 60);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, FinalizeAndDestroyWaitForQueuedWork) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 65536;
    std::vector<char> in(count * 4), want(count * 4);
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    void* buf = g.upload(in);
    g.closeGate();
    bool ok = mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess;
    std::thread opener([&g] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      g.openGate();
    });
    ok &= rankCheck(mixcclCommFinalize(comm) == mixcclSuccess, rank, "finalize failed: %s", mixcclGetLastError(comm));
    ok &= rankCheck(mixcclCommDestroy(comm) == mixcclSuccess, rank, "destroy failed");
    opener.join();
    std::vector<char> got = g.download(buf, in.size());
    ok &= rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, rank, "wrong result");
    return ok ? 0 : 1;
  };
  auto result = runRanks(2, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, ManyCallsInFlightStayWithinTheStagingLimit) {
  // 40 all-reduces of 1 MiB queued without a sync, with room for two calls' staging (unbounded, about four are in
  // flight here): the pool waits for earlier calls to hand theirs back, and every result is still right.
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_STAGING_MAX_BYTES", "2M", 1);
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = testing::backToBackAllReduces(g, comm, 40, 1 << 18, rank, n);
    if (testing::testGpuIsEmulated()) {
      auto& emu = static_cast<testing::EmulatedGpu&>(*g.gpu());
      ok &= rankCheck(emu.peakPinnedBytes() <= (2u << 20) + 4096, rank, "staging held %zu bytes at once (limit 2 MiB)",
                      emu.peakPinnedBytes());
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(StagedDevice, SeparateProcessesOnOneGpuAreWarnedAboutOnceUnlessMpsRuns) {
  for (bool mps : {false, true}) {
    auto body = [mps](int rank, int n, const mixcclUniqueId& id) -> int {
      if (mps) setenv("CUDA_MPS_PIPE_DIRECTORY", "/tmp/mixccl-test-mps-pipe", 1);
      RankGpu g;
      if (!g.open(rank)) return 1;  // this process now uses the GPU
      mixcclComm_t comm = nullptr;
      const std::string err = testing::captureStderr([&] { comm = initRankComm(rank, n, id); });
      if (comm == nullptr) return 1;
      const bool warned = err.find("are 3 processes on one GPU") != std::string::npos;
      const bool want = !mps && rank == 0;
      bool ok = rankCheck(warned == want, rank, "%s: stderr was: %s", want ? "no warning" : "an unwanted warning",
                          err.c_str());
      if (want) ok &= rankCheck(err.find("ranks 0, 1, 2 ") != std::string::npos, rank, "ranks not named: %s",
                                err.c_str());
      mixcclCommDestroy(comm);
      return ok ? 0 : 1;
    };
    auto result = runRanks(3, body);
    EXPECT_TRUE(result.ok) << (mps ? "with" : "without") << " MPS:\n" << result.report;
  }
}

TEST(StagedDevice, MemAllocGivesMemoryOfTheCurrentGpu) {
  auto body = [](int rank, int, const mixcclUniqueId&) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    void* p = nullptr;
    bool ok = rankCheck(mixcclMemAlloc(&p, 1 << 20) == mixcclSuccess, rank, "alloc: %s", mixcclGetLastError(nullptr));
    PointerInfo info;
    ok &= rankCheck(g.gpu()->queryPointer(p, &info) == mixcclSuccess && info.type == g.gpu()->memoryType(), rank,
                    "mixcclMemAlloc gave memory of type %d, not the GPU's", int(info.type));
    ok &= rankCheck(mixcclMemFree(p) == mixcclSuccess, rank, "free: %s", mixcclGetLastError(nullptr));
    ok &= rankCheck(mixcclMemFree(p) == mixcclInvalidArgument, rank, "a second free was accepted");
    return ok ? 0 : 1;
  };
  auto result = runRanks(1, body);
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

// Collectives that meet in one shared host-memory segment (MIXCCL_SHARED_REDUCE=1, core/shared_reduce.h): exact
// for every collective, data type and operator piece by piece, with the copies going straight to and from the segment
// (no staging buffer, nothing pageable); host and device buffers and groups of one communicator in issue order; a
// lost rank fails the others instead of holding them; settings that must agree; what MIXCCL_SHARED_REDUCE=auto
// decides. The GPU is the host emulation (support/emulated_gpu.h) unless MIXCCL_TEST_REAL_GPU=1.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <string>
#include <thread>
#include <vector>

#include "support/emulated_gpu.h"
#include "support/rank_gpu.h"
#include "support/rank_runner.h"
#include "support/scoped_env.h"
#include "support/small_dev_shm.h"
#include "support/test_gpu.h"

namespace mixccl {
namespace {

using testing::initRankComm;
using testing::rankCheck;
using testing::RankGpu;
using testing::runDeviceCollective;
using testing::runRanks;

// The shared segment on, cut into 64 KiB pieces; the paths that would take the collectives elsewhere off.
testing::ScopedEnv sharedOn() {
  return testing::ScopedEnv({{"MIXCCL_SHARED_REDUCE", "1"},
                             {"MIXCCL_SHARED_REDUCE_SLOT_BYTES", "64K"},
                             {"MIXCCL_GPU_IPC", "0"},
                             {"MIXCCL_DEVICE_STEPS", "0"},
                             {"MIXCCL_DEBUG", "INFO"}});
}

testing::EmulatedGpu* emulated(RankGpu& g) {
  return testing::testGpuIsEmulated() ? static_cast<testing::EmulatedGpu*>(g.gpu()) : nullptr;
}

// A rank's end: whether its communicator has no asynchronous error (printed if it has), then its destruction. Returns
// the rank's exit code: 0 when `ok` and no error.
int destroyClean(mixcclComm_t comm, int rank, bool ok) {
  mixcclResult_t async = mixcclSuccess;
  mixcclCommGetAsyncError(comm, &async);
  ok &= rankCheck(async == mixcclSuccess, rank, "async error %d", async);
  mixcclCommDestroy(comm);
  return ok ? 0 : 1;
}

// /dev/shm entries of the shared segments that process `pid` made.
int segmentsOf(int pid) {
  const std::string prefix = "mixccl-" + std::to_string(pid) + "-";
  int found = 0;
  if (DIR* dir = opendir("/dev/shm")) {
    while (dirent* e = readdir(dir)) found += std::string(e->d_name).rfind(prefix, 0) == 0 ? 1 : 0;
    closedir(dir);
  }
  return found;
}

// An int32 sum all-reduce of `count` elements, on device or host buffers, out of place: rank r's element i is
// (r + 1) * (i % 13 + seed). Enqueued only: check() reads the result back.
struct IntCall {
  uint64_t count;
  int seed;
  bool onDevice;
  std::vector<int32_t> hostIn, hostOut;
  void* in = nullptr;
  void* out = nullptr;

  IntCall(RankGpu& g, uint64_t c, int s, bool device, int rank) : count(c), seed(s), onDevice(device) {
    hostIn.resize(count);
    hostOut.assign(count, -1);
    for (uint64_t i = 0; i < count; ++i) hostIn[i] = (rank + 1) * (int32_t(i % 13) + seed);
    if (onDevice) {
      std::vector<char> bytes(count * 4);
      memcpy(bytes.data(), hostIn.data(), bytes.size());
      in = g.upload(bytes);
      out = g.alloc(bytes.size());
      g.sync();
    } else {
      in = hostIn.data();
      out = hostOut.data();
    }
  }
  bool check(RankGpu& g, int rank, int n) {
    if (onDevice) {
      std::vector<char> got = g.download(out, count * 4);
      memcpy(hostOut.data(), got.data(), got.size());
    }
    for (uint64_t i = 0; i < count; ++i) {
      const int32_t want = (int32_t(i % 13) + seed) * n * (n + 1) / 2;
      if (hostOut[i] != want) {
        return rankCheck(false, rank, "call with seed %d (%s buffers): element %llu is %d, want %d", seed,
                         onDevice ? "device" : "host", (unsigned long long)i, hostOut[i], want);
      }
    }
    return true;
  }
};

TEST(SharedReduce, AllReducesOfEveryTypeAndOpAreExactPieceByPieceStraightThroughTheSegment) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank, /*pinnedCopyBytes=*/1 << 20)) return 1;  // the test's own copies: not pageable either
    testing::EmulatedGpu* emu = emulated(g);
    const size_t registeredBefore = emu != nullptr ? emu->liveHostRegistrations() : 0;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const size_t pinnedAtInit = emu != nullptr ? emu->peakPinnedBytes() : 0;
    const size_t pageableBefore = emu != nullptr ? emu->pageableCopies() : 0;
    int failures = 0;
    for (mixcclDataType_t dt :
         {mixcclFloat32, mixcclFloat16, mixcclBfloat16, mixcclInt32, mixcclUint8, mixcclFloat64}) {
      for (mixcclRedOp_t op : {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg}) {
        // One element; a piece and a bit (64 KiB slots); several pieces, so slots are reused.
        for (uint64_t count : {1ull, 16411ull, 70001ull}) {
          for (bool inPlace : {false, true}) {
            failures += runDeviceCollective(g, comm, 0, count, dt, op, inPlace, rank, n);
          }
        }
      }
    }
    if (emu != nullptr) {
      // Copies to the device far slower than those from it: an output slot that the ranks overwrote with a later
      // piece before this rank's copy of it to the device was done would show.
      // (Element i's value has period 13, so a piece differs from the one two pieces on.)
      IntCall slow(g, 70001, 7, /*device=*/true, rank);
      emu->setHostToDeviceDelayUs(3000);
      const bool called =
          mixcclAllReduce(slow.in, slow.out, slow.count, mixcclInt32, mixcclSum, comm, g.stream()) == mixcclSuccess;
      failures += rankCheck(called, rank, "slow all-reduce: %s", mixcclGetLastError(comm)) ? 0 : 1;
      failures += called && slow.check(g, rank, n) ? 0 : 1;
      emu->setHostToDeviceDelayUs(0);
      // The stream copied into and out of the registered segment: no staging buffer was taken, nothing pageable.
      failures += rankCheck(emu->peakPinnedBytes() == pinnedAtInit, rank, "%zu bytes of pinned staging taken",
                            emu->peakPinnedBytes() - pinnedAtInit)
                      ? 0
                      : 1;
      failures += rankCheck(emu->pageableCopies() == pageableBefore, rank, "%zu copies from or to pageable memory",
                            emu->pageableCopies() - pageableBefore)
                      ? 0
                      : 1;
      failures += rankCheck(emu->liveHostRegistrations() == registeredBefore + 1, rank,
                            "%zu host ranges registered, want the segment only",
                            emu->liveHostRegistrations() - registeredBefore)
                      ? 0
                      : 1;
    }
    mixcclCommDestroy(comm);
    if (emu != nullptr) {
      failures += rankCheck(emu->liveHostRegistrations() == registeredBefore, rank,
                            "the segment is still registered after destroy")
                      ? 0
                      : 1;
    }
    return failures == 0 ? 0 : 1;
  };
  for (int n : {2, 4}) {
    auto result = runRanks(n, body, 300);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
    EXPECT_NE(result.output.find("collectives meet in one shared segment"), std::string::npos) << result.output;
    for (int pid : result.pids) EXPECT_EQ(segmentsOf(pid), 0) << "a segment of pid " << pid << " was left behind";
  }
}

// Reduce-scatter, all-gather, broadcast and reduce go through the segment too (core/shared_shape.h): exact on device
// and host buffers, in and out of place, from one element to several pieces (a reduce-scatter's and an all-gather's
// pieces hold a block per rank), with no staging buffer taken for the device buffers.
TEST(SharedReduce, TheOtherCollectivesAreExactPieceByPieceThroughTheSegment) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank, /*pinnedCopyBytes=*/1 << 22)) return 1;
    testing::EmulatedGpu* emu = emulated(g);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const size_t pinnedAtInit = emu != nullptr ? emu->peakPinnedBytes() : 0;
    int failures = 0;
    for (int coll : {1, 2, 3, 4}) {
      const bool reduces = coll == 2 || coll == 4;
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32, mixcclUint8, mixcclFloat64}) {
        for (mixcclRedOp_t op : {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg}) {
          if (!reduces && op != mixcclSum) continue;  // no operator
          // One element; a piece of the 64 KiB slots and a bit; several pieces, so slots are reused.
          for (uint64_t count : {1ull, 16411ull / uint64_t(coll == 1 || coll == 2 ? n : 1) + 1, 70001ull}) {
            for (bool inPlace : {false, true}) {
              for (bool host : {false, true}) {
                failures += runDeviceCollective(g, comm, coll, count, dt, op, inPlace, rank, n, host);
              }
            }
          }
        }
      }
    }
    if (emu != nullptr) {
      failures += rankCheck(emu->peakPinnedBytes() == pinnedAtInit, rank, "%zu bytes of pinned staging taken",
                            emu->peakPinnedBytes() - pinnedAtInit)
                      ? 0
                      : 1;
    }
    return destroyClean(comm, rank, failures == 0);
  };
  for (int n : {2, 3}) {
    auto result = runRanks(n, body, 300);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
    for (int pid : result.pids) EXPECT_EQ(segmentsOf(pid), 0) << "a segment of pid " << pid << " was left behind";
  }
}

// Ranks without a GPU take part too: in a communicator of CPU ranks alone, and beside GPU ranks (rank 0 without
// one), every collective is exact, and the segment is used (its init line, no warning).
TEST(SharedReduce, RanksWithoutAGpuMeetThereTooAloneAndBesideGpuRanks) {
  const auto env = sharedOn();
  for (bool gpuRanks : {false, true}) {
    auto body = [gpuRanks](int rank, int n, const mixcclUniqueId& id) -> int {
      const bool onGpu = gpuRanks && rank != 0;
      RankGpu g;
      if (onGpu && !g.open(rank, /*pinnedCopyBytes=*/1 << 22)) return 1;
      mixcclComm_t comm = initRankComm(rank, n, id);
      if (comm == nullptr) return 1;
      int failures = 0;
      for (int coll : {0, 1, 2, 3, 4}) {
        for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32}) {
          for (mixcclRedOp_t op : {mixcclSum, mixcclMax, mixcclAvg}) {
            if ((coll == 1 || coll == 3) && op != mixcclSum) continue;  // no operator
            for (uint64_t count : {1ull, 70001ull}) {
              for (bool inPlace : {false, true}) {
                failures += runDeviceCollective(g, comm, coll, count, dt, op, inPlace, rank, n, /*hostBuffers=*/!onGpu);
              }
            }
          }
        }
      }
      return destroyClean(comm, rank, failures == 0);
    };
    auto result = runRanks(3, body, 300);
    EXPECT_TRUE(result.ok) << (gpuRanks ? "beside GPU ranks" : "alone") << ":\n" << result.report;
    EXPECT_NE(result.output.find("collectives meet in one shared segment"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("is not used"), std::string::npos) << result.output;
  }
}

TEST(SharedReduce, HostAndDeviceBuffersAndGroupsMeetInIssueOrder) {
  const auto env = sharedOn();
  const testing::ScopedEnv timeout({{"MIXCCL_TIMEOUT", "20"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    // Rank 0 uses host memory where the others use device memory, and the other way round.
    const bool dev = rank != 0;
    std::vector<IntCall> calls;
    calls.reserve(6);
    calls.emplace_back(g, 40000, 1, dev, rank);  // 3 pieces
    calls.emplace_back(g, 5, 2, !dev, rank);
    calls.emplace_back(g, 20000, 3, dev, rank);  // in rank 0's group
    calls.emplace_back(g, 17, 4, dev, rank);     // in rank 0's group
    calls.emplace_back(g, 33000, 5, !dev, rank);
    auto allReduce = [&](IntCall& c) {
      return mixcclAllReduce(c.in, c.out, c.count, mixcclInt32, mixcclSum, comm, g.stream());
    };
    bool ok = rankCheck(allReduce(calls[0]) == mixcclSuccess, rank, "call 0: %s", mixcclGetLastError(comm));
    ok &= rankCheck(allReduce(calls[1]) == mixcclSuccess, rank, "call 1: %s", mixcclGetLastError(comm));
    // An all-gather on host buffers (through the segment too) between two all-reduces; rank 0 groups the three, the
    // others do not: the order still holds.
    std::vector<int32_t> mine(9, rank), gathered(9 * size_t(n), -1);
    if (rank == 0) mixcclGroupStart();
    allReduce(calls[2]);
    mixcclAllGather(mine.data(), gathered.data(), mine.size(), mixcclInt32, comm, g.stream());
    allReduce(calls[3]);
    if (rank == 0) ok &= rankCheck(mixcclGroupEnd() == mixcclSuccess, rank, "group: %s", mixcclGetLastError(comm));
    ok &= rankCheck(allReduce(calls[4]) == mixcclSuccess, rank, "call 4: %s", mixcclGetLastError(comm));
    g.sync();
    for (IntCall& c : calls) ok &= c.check(g, rank, n);
    for (size_t i = 0; i < gathered.size(); ++i) {
      if (gathered[i] != int32_t(i / 9)) {
        ok = rankCheck(false, rank, "all-gather element %zu is %d", i, gathered[i]);
        break;
      }
    }
    return destroyClean(comm, rank, ok);
  };
  auto result = runRanks(3, body, 300);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(SharedReduce, SlotsAreReusedOnlyOnceFreeAcrossCallsStreamsAndMemories) {
  // One rank's copies to the device are slow: a later call (of any kind) that wrote a slot before that rank's copy
  // out of it was done, or before every rank had reduced its last piece in it, would show. Every call spans several
  // 64 KiB pieces; element i's value has period 13, so a piece differs from the ones around it.
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank, /*pinnedCopyBytes=*/1 << 20)) return 1;
    testing::EmulatedGpu* emu = emulated(g);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    void* other = nullptr;
    if (g.gpu()->streamCreate(&other) != mixcclSuccess) return rankCheck(false, rank, "no second stream") ? 0 : 1;
    std::vector<IntCall> calls;
    calls.reserve(6);
    calls.emplace_back(g, 70001, 1, true, rank);   // device, the rank's stream
    calls.emplace_back(g, 40000, 2, false, rank);  // host
    calls.emplace_back(g, 70001, 3, true, rank);   // device, another stream
    calls.emplace_back(g, 50001, 4, true, rank);   // device, in a group with the next
    calls.emplace_back(g, 30000, 5, false, rank);  // host, in that group
    calls.emplace_back(g, 33333, 6, true, rank);   // device, the rank's stream again
    if (emu != nullptr && rank == 0) emu->setHostToDeviceDelayUs(20000);
    auto allReduce = [&](IntCall& c, void* stream) {
      return mixcclAllReduce(c.in, c.out, c.count, mixcclInt32, mixcclSum, comm, stream) == mixcclSuccess;
    };
    bool ok =
        rankCheck(allReduce(calls[0], g.stream()) && allReduce(calls[1], g.stream()) && allReduce(calls[2], other),
                  rank, "a call failed: %s", mixcclGetLastError(comm));
    mixcclGroupStart();
    allReduce(calls[3], g.stream());
    allReduce(calls[4], g.stream());
    ok &= rankCheck(mixcclGroupEnd() == mixcclSuccess, rank, "group: %s", mixcclGetLastError(comm));
    ok &= rankCheck(allReduce(calls[5], g.stream()), rank, "last call: %s", mixcclGetLastError(comm));
    g.sync();
    g.gpu()->streamSynchronize(other);
    if (emu != nullptr) emu->setHostToDeviceDelayUs(0);
    for (IntCall& c : calls) ok &= c.check(g, rank, n);
    ok &= rankCheck(testing::awaitAsyncError(comm, 0) == mixcclSuccess, rank, "async error");
    mixcclCommDestroy(comm);
    g.gpu()->streamDestroy(other);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 300);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(SharedReduce, PreMulSumOnHostAndDeviceRanksAndPointToPointInGroupsStillMeet) {
  // A pre-mul-sum goes the host engine's way on every rank, whatever its memory (a host rank scales its input on
  // the calling thread, a device rank in its job). A send that one rank groups before an all-reduce and its
  // receive that the other groups after it progress beside the all-reduce.
  const auto env = sharedOn();
  const testing::ScopedEnv timeout({{"MIXCCL_TIMEOUT", "30"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank, /*pinnedCopyBytes=*/1 << 20)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    float scalar = 2.0f;
    mixcclRedOp_t op;
    bool ok = rankCheck(
        mixcclRedOpCreatePreMulSum(&op, &scalar, mixcclFloat32, mixcclScalarHostImmediate, comm) == mixcclSuccess, rank,
        "pre-mul-sum: %s", mixcclGetLastError(comm));
    const size_t count = 100000;
    std::vector<float> hin(count, float(rank + 1)), hout(count, 0.0f);
    std::vector<char> bytes(count * 4);
    memcpy(bytes.data(), hin.data(), bytes.size());
    void* din = g.upload(bytes);
    void* dout = g.alloc(bytes.size());
    g.sync();
    const bool onDevice = rank != 0;
    ok &= rankCheck(mixcclAllReduce(onDevice ? din : hin.data(), onDevice ? dout : hout.data(), count, mixcclFloat32,
                                    op, comm, g.stream()) == mixcclSuccess,
                    rank, "all-reduce: %s", mixcclGetLastError(comm));
    g.sync();
    if (onDevice) memcpy(hout.data(), g.download(dout, bytes.size()).data(), bytes.size());
    const float want = 2.0f * float(n * (n + 1) / 2);
    ok &= rankCheck(hout[0] == want && hout[count - 1] == want, rank, "pre-mul-sum gave %f, want %f", hout[0], want);

    const size_t big = 8 << 20;  // more than the transport's slots hold: the send waits for the receive
    std::vector<char> msg(big, char(rank + 1)), got(big, 0);
    IntCall mid(g, 40000, 3, onDevice, rank);
    mixcclGroupStart();
    if (rank == 0) mixcclSend(msg.data(), big, mixcclUint8, 1, comm, g.stream());
    mixcclAllReduce(mid.in, mid.out, mid.count, mixcclInt32, mixcclSum, comm, g.stream());
    if (rank == 1) mixcclRecv(got.data(), big, mixcclUint8, 0, comm, g.stream());
    ok &= rankCheck(mixcclGroupEnd() == mixcclSuccess, rank, "group: %s", mixcclGetLastError(comm));
    g.sync();
    ok &= mid.check(g, rank, n);
    if (rank == 1) ok &= rankCheck(got[0] == 1 && got[big - 1] == 1, rank, "received %d", got[big - 1]);
    mixcclRedOpDestroy(op, comm);
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(SharedReduce, ALostRankFailsTheOthersInsteadOfHoldingThem) {
  const auto env = sharedOn();
  const testing::ScopedEnv timeout({{"MIXCCL_TIMEOUT", "60"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    if (rank == n - 1) _exit(0);  // leaves without taking part
    const auto start = std::chrono::steady_clock::now();
    std::vector<char> in(1 << 20, 1);
    void* buf = g.upload(in);
    mixcclAllReduce(buf, buf, in.size(), mixcclUint8, mixcclSum, comm, g.stream());
    g.sync();  // must come back: every piece's job advances the flag, a failed one too
    const mixcclResult_t async = testing::awaitAsyncError(comm, 10);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bool ok = rankCheck(async == mixcclRemoteError, rank, "async error %d, want mixcclRemoteError", async);
    // Far sooner than MIXCCL_TIMEOUT: the lost rank's socket closed, or the other rank marked the segment failed.
    ok &= rankCheck(took < 20, rank, "the failure took %.1f s to show", took);
    mixcclCommAbort(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_NE(result.output.find("shared segment"), std::string::npos) << result.output;
}

TEST(SharedReduce, AnAbortWithItsStreamHeldReturnsAndKeepsTheSegmentForTheStream) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    testing::EmulatedGpu* emu = emulated(g);
    const size_t registeredBefore = emu != nullptr ? emu->liveHostRegistrations() : 0;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    std::vector<char> in(1 << 20, 1);
    void* buf = g.upload(in);
    g.sync();
    g.closeGate();  // the stream reaches none of the call's copies before the abort
    bool ok =
        rankCheck(mixcclAllReduce(buf, buf, in.size() / 4, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess,
                  rank, "enqueue: %s", mixcclGetLastError(comm));
    const auto start = std::chrono::steady_clock::now();
    mixcclCommAbort(comm);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ok &= rankCheck(took < 30, rank, "the abort took %.1f s", took);
    if (emu != nullptr) {
      // The stream will still copy to and from the segment: it stays registered (and mapped).
      ok &= rankCheck(emu->liveHostRegistrations() == registeredBefore + 1, rank,
                      "%zu host ranges registered after the abort, want the segment's",
                      emu->liveHostRegistrations() - registeredBefore);
    }
    g.openGate();
    g.sync();  // the stream's copies run against memory that is still there, and its waits pass
    return ok ? 0 : 1;
  };
  auto result = runRanks(2, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_NE(result.output.find("it stays mapped"), std::string::npos) << result.output;
}

TEST(SharedReduce, AShrinkThatAbortsEndsTheWaitOfAQueuedGroupForAHungRank) {
  // Rank 2 stays alive but never calls (no lost peer to notice); the others' group of two all-reduces waits for it
  // on their proxies, as ops beside each other. A shrink in abort mode must end that wait at once, not after
  // MIXCCL_TIMEOUT, and the survivors' child communicator must work.
  const auto env = sharedOn();
  const testing::ScopedEnv timeout({{"MIXCCL_TIMEOUT", "60"}});
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank, /*pinnedCopyBytes=*/1 << 20)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    if (rank == 2) {
      std::this_thread::sleep_for(std::chrono::seconds(15));
      _exit(0);
    }
    IntCall a(g, 40000, 1, true, rank), b(g, 40000, 2, true, rank);
    mixcclGroupStart();
    mixcclAllReduce(a.in, a.out, a.count, mixcclInt32, mixcclSum, comm, g.stream());
    mixcclAllReduce(b.in, b.out, b.count, mixcclInt32, mixcclSum, comm, g.stream());
    bool ok = rankCheck(mixcclGroupEnd() == mixcclSuccess, rank, "group: %s", mixcclGetLastError(comm));
    // By then the group's inputs have landed and its job waits in the segment for rank 2 (not for the stream).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto start = std::chrono::steady_clock::now();
    int excluded[] = {2};
    mixcclComm_t small = nullptr;
    ok &= rankCheck(mixcclCommShrink(comm, excluded, 1, &small, nullptr, MIXCCL_SHRINK_ABORT) == mixcclSuccess, rank,
                    "shrink: %s", mixcclGetLastError(comm));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ok &= rankCheck(took < 5, rank, "the shrink took %.1f s: the queued group still waited for rank 2", took);
    g.sync();  // released: the failed job advanced the flag
    if (small != nullptr) {
      IntCall c(g, 50000, 3, true, rank);
      ok &= rankCheck(mixcclAllReduce(c.in, c.out, c.count, mixcclInt32, mixcclSum, small, g.stream()) == mixcclSuccess,
                      rank, "child all-reduce: %s", mixcclGetLastError(small));
      g.sync();
      ok &= c.check(g, rank, 2);
      mixcclCommDestroy(small);
    }
    mixcclCommAbort(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

// Init with MIXCCL_SHARED_REDUCE(_SLOT_BYTES) per rank as `settings(rank)` gives; every rank must fail with an error
// that contains `want`.
void expectInitFails(const std::function<std::vector<std::pair<std::string, std::string>>(int)>& settings,
                     const std::string& want) {
  auto body = [&](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    for (const auto& [name, value] : settings(rank)) setenv(name.c_str(), value.c_str(), 1);
    mixcclComm_t comm = nullptr;
    const mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
    const std::string error = mixcclGetLastError(nullptr);
    if (res == mixcclSuccess) mixcclCommDestroy(comm);
    bool ok = rankCheck(res != mixcclSuccess, rank, "init succeeded");
    ok &= rankCheck(error.find(want) != std::string::npos, rank, "error \"%s\" does not say \"%s\"", error.c_str(),
                    want.c_str());
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 60);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(SharedReduce, SettingsMustAgreeAndBeWellFormed) {
  const testing::ScopedEnv env({{"MIXCCL_GPU_IPC", "0"}});
  expectInitFails(
      [](int rank) {
        return std::vector<std::pair<std::string, std::string>>{{"MIXCCL_SHARED_REDUCE", rank == 1 ? "0" : "1"}};
      },
      "MIXCCL_SHARED_REDUCE differs between ranks");
  expectInitFails(
      [](int rank) {
        return std::vector<std::pair<std::string, std::string>>{{"MIXCCL_SHARED_REDUCE", rank == 1 ? "auto" : "1"}};
      },
      "auto");  // each rank names the values: "rank 1 has auto", or "this rank auto"
  expectInitFails(
      [](int rank) {
        return std::vector<std::pair<std::string, std::string>>{
            {"MIXCCL_SHARED_REDUCE", "1"}, {"MIXCCL_SHARED_REDUCE_SLOT_BYTES", rank == 2 ? "128K" : "64K"}};
      },
      "MIXCCL_SHARED_REDUCE_SLOT_BYTES differs between ranks");
  expectInitFails(
      [](int) {
        return std::vector<std::pair<std::string, std::string>>{{"MIXCCL_SHARED_REDUCE", "1"},
                                                                {"MIXCCL_SHARED_REDUCE_SLOT_BYTES", "5000"}};
      },
      "must be a multiple of 4096");
  expectInitFails(
      [](int) {
        return std::vector<std::pair<std::string, std::string>>{{"MIXCCL_SHARED_REDUCE", "yes"}};
      },
      "must be 0, 1 or auto");
}

// MIXCCL_SHARED_REDUCE=auto (64 KiB pieces, or `slotBytes`), three ranks, rank 0 with a GPU or not: each makes
// three all-reduces of its memory and checks them. With `rank0GpuIdle` rank 0 (on host buffers) has a GPU it has
// not used. Returns the runRanks result (its output at INFO).
testing::RankRunResult autoRanks(bool rank0OnGpu, const char* slotBytes = "64K", bool rank0GpuIdle = false) {
  const testing::ScopedEnv env({{"MIXCCL_SHARED_REDUCE", "auto"},
                                {"MIXCCL_SHARED_REDUCE_SLOT_BYTES", slotBytes},
                                {"MIXCCL_GPU_IPC", "0"},
                                {"MIXCCL_DEVICE_STEPS", "0"},
                                {"MIXCCL_DEBUG", "INFO"}});
  auto body = [rank0OnGpu, rank0GpuIdle](int rank, int n, const mixcclUniqueId& id) -> int {
    const bool onGpu = rank0OnGpu || rank != 0;
    if (!onGpu && rank0GpuIdle) {
      testing::installEmulatedGpu().setInUse(false);  // the library finds the GPU, never used by this process
    } else if (!onGpu) {
      // On a machine with a GPU too (MIXCCL_TEST_REAL_GPU=1), this rank has none: the library must not find it.
      setenv("CUDA_VISIBLE_DEVICES", "", 1);
      setenv("HIP_VISIBLE_DEVICES", "", 1);
    }
    RankGpu g;
    if (onGpu && !g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = true;
    for (int seed : {1, 2, 3}) {
      IntCall call(g, 100000, seed, onGpu, rank);
      ok &= rankCheck(mixcclAllReduce(call.in, call.out, call.count, mixcclInt32, mixcclSum, comm, g.stream()) ==
                          mixcclSuccess,
                      rank, "all-reduce: %s", mixcclGetLastError(comm));
      if (onGpu) g.sync();
      ok &= call.check(g, rank, n);
    }
    return destroyClean(comm, rank, ok);
  };
  return runRanks(3, body, 120);
}

TEST(SharedReduce, AutoMeetsThereWhereEveryRankHasAGpu) {
  auto result = autoRanks(true);
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_NE(result.output.find("collectives meet in one shared segment"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("is not used"), std::string::npos) << result.output;
}

TEST(SharedReduce, AutoLeavesACommunicatorWithARankWithoutAGpuInUseToTheHostEngine) {
  // Rank 0 on host buffers, without a GPU, or with one its process never used (auto must not register the segment
  // with it: that would start a GPU context there).
  for (bool idleGpu : {false, true}) {
    if (idleGpu && !testing::testGpuIsEmulated()) continue;  // only the emulation can say its GPU is unused
    auto result = autoRanks(false, "64K", idleGpu);
    EXPECT_TRUE(result.ok) << result.report;
    EXPECT_NE(result.output.find("MIXCCL_SHARED_REDUCE=auto is not used: rank 0 has no GPU in use"), std::string::npos)
        << result.output;
    EXPECT_EQ(result.output.find("collectives meet in one shared segment"), std::string::npos) << result.output;
  }
}

TEST(SharedReduce, AutoFallsBackWhereDevShmIsTooSmallWhereOneFailsInit) {
  // 16 MiB pieces need (3 + 1) * 2 * 16 MiB of /dev/shm for three ranks; 48 MiB are there (the transports' own
  // segments fit). auto: the host engine instead, every rank exact; 1: every rank's init fails, naming /dev/shm.
  const std::string result = testing::withSmallDevShm(48, [] {
    const testing::RankRunResult fallback = autoRanks(true, "16M");
    bool ok = fallback.ok && fallback.output.find("MIXCCL_SHARED_REDUCE=auto is not used: it needs") !=
                                 std::string::npos;
    if (!ok) std::printf("auto:\n%s\n%s\n", fallback.report.c_str(), fallback.output.c_str());
    const testing::ScopedEnv env({{"MIXCCL_SHARED_REDUCE_SLOT_BYTES", "16M"}});
    expectInitFails(
        [](int) {
          return std::vector<std::pair<std::string, std::string>>{{"MIXCCL_SHARED_REDUCE", "1"},
                                                                  {"MIXCCL_GPU_IPC", "0"}};
        },
        "/dev/shm");
    return ok && !::testing::Test::HasFailure();
  });
  if (result.rfind("skip: ", 0) == 0) GTEST_SKIP() << result.substr(6);
  EXPECT_EQ(result, "");
}

// A reduce's other ranks never wait for their calls: they enqueue one after another, and destroy the communicator
// while their streams still copy in. The root's results stay exact: each rank's copies wait for its own stream to
// reach the call, and what the teardown frees (the copy-in stream's events) goes only once the GPU is done with it.
TEST(SharedReduce, RanksThatNeverWaitAndDestroyAtOnceStillGiveTheRootExactResults) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    int failures = 0;
    for (int call = 0; call < 30; ++call) {
      // One piece, mostly; every fifth call several, so that slots are reused within a call too.
      const uint64_t count = call % 5 == 4 ? 40001 : 7;
      failures += runDeviceCollective(g, comm, 4, count, mixcclFloat32, mixcclMax, call % 2 == 1, rank, n);
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

// A buffer of int32 elements in host or device memory, with the values it was made with.
struct MixedBuffer {
  bool dev = false;
  std::vector<int32_t> host;
  void* p = nullptr;
  size_t n = 0;
};
// Rank r's element i of block b in call `call`.
int32_t valueOf(int r, int b, uint64_t i, int call) { return (r + 1) * int32_t((i * 7 + b * 3 + call) % 101) + 1; }

// Every collective in turn, several pieces each, enqueued back to back without a wait, the last rank 300 ms late, so
// that slots are reused across calls of different layouts; each rank's memory chosen per call (send and receive
// buffers apart, host or device); non-root buffers NULL or left as they were; roots 0 and n - 1; send buffers
// unchanged. Every call went through the segment (no "shared segment:" failure, and its init line).
TEST(SharedReduce, MixedCollectivesBackToBackWithMixedMemoryAndNullNonRootBuffers) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    std::list<MixedBuffer> bufs;
    auto make = [&](bool dev, size_t elems, std::function<int32_t(size_t)> init) -> MixedBuffer* {
      MixedBuffer& b = bufs.emplace_back();
      b.dev = dev;
      b.n = elems;
      b.host.resize(elems);
      for (size_t i = 0; i < elems; ++i) b.host[i] = init(i);
      if (dev) {
        std::vector<char> bytes(elems * 4);
        memcpy(bytes.data(), b.host.data(), bytes.size());
        b.p = g.upload(bytes);
      } else {
        b.p = b.host.data();
      }
      return &b;
    };
    g.sync();
    struct Check {
      MixedBuffer* b;
      size_t off;
      std::vector<int32_t> want;
      std::string what;
    };
    std::vector<Check> checks;
    const uint64_t c = 40001;
    if (rank == n - 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int failures = 0;
    for (int call = 0; call < 24; ++call) {
      const int coll = call % 5;
      const bool sdev = ((rank + call) % 3) != 0, rdev = ((rank * 2 + call) % 4) < 2;
      const int root = (call / 5) % 2 == 0 ? 0 : n - 1;
      mixcclResult_t res = mixcclSuccess;
      if (coll == 0) {  // all-gather
        MixedBuffer* s = make(sdev, c, [&](size_t i) { return valueOf(rank, 0, i, call); });
        MixedBuffer* r = make(rdev, c * n, [](size_t) { return -5; });
        res = mixcclAllGather(s->p, r->p, c, mixcclInt32, comm, g.stream());
        std::vector<int32_t> w(c * n);
        for (int b = 0; b < n; ++b)
          for (uint64_t i = 0; i < c; ++i) w[b * c + i] = valueOf(b, 0, i, call);
        checks.push_back({r, 0, w, "ag recv"});
        checks.push_back({s, 0, s->host, "ag send"});
      } else if (coll == 1) {  // reduce-scatter
        MixedBuffer* s = make(sdev, c * n, [&](size_t i) { return valueOf(rank, int(i / c), i % c, call); });
        MixedBuffer* r = make(rdev, c, [](size_t) { return -5; });
        res = mixcclReduceScatter(s->p, r->p, c, mixcclInt32, mixcclSum, comm, g.stream());
        std::vector<int32_t> w(c, 0);
        for (int q = 0; q < n; ++q)
          for (uint64_t i = 0; i < c; ++i) w[i] += valueOf(q, rank, i, call);
        checks.push_back({r, 0, w, "rs recv"});
        checks.push_back({s, 0, s->host, "rs send"});
      } else if (coll == 2) {  // broadcast, non-root send NULL
        MixedBuffer* s = rank == root ? make(sdev, c, [&](size_t i) { return valueOf(rank, 0, i, call); }) : nullptr;
        MixedBuffer* r = make(rdev, c, [](size_t) { return -5; });
        res = mixcclBroadcast(s ? s->p : nullptr, r->p, c, mixcclInt32, root, comm, g.stream());
        std::vector<int32_t> w(c);
        for (uint64_t i = 0; i < c; ++i) w[i] = valueOf(root, 0, i, call);
        checks.push_back({r, 0, w, "bc recv"});
      } else if (coll == 3) {  // reduce, non-root recv NULL or sentinel
        MixedBuffer* s = make(sdev, c, [&](size_t i) { return valueOf(rank, 0, i, call); });
        MixedBuffer* r = nullptr;
        if (rank == root || call % 2 == 0) r = make(rdev, c, [](size_t) { return -5; });
        res = mixcclReduce(s->p, r ? r->p : nullptr, c, mixcclInt32, mixcclSum, root, comm, g.stream());
        std::vector<int32_t> w(c, rank == root ? 0 : -5);
        if (rank == root)
          for (int q = 0; q < n; ++q)
            for (uint64_t i = 0; i < c; ++i) w[i] += valueOf(q, 0, i, call);
        if (r) checks.push_back({r, 0, w, "reduce recv"});
        checks.push_back({s, 0, s->host, "reduce send"});
      } else {  // all-reduce
        MixedBuffer* s = make(sdev, c, [&](size_t i) { return valueOf(rank, 0, i, call); });
        MixedBuffer* r = make(rdev, c, [](size_t) { return -5; });
        res = mixcclAllReduce(s->p, r->p, c, mixcclInt32, mixcclSum, comm, g.stream());
        std::vector<int32_t> w(c, 0);
        for (int q = 0; q < n; ++q)
          for (uint64_t i = 0; i < c; ++i) w[i] += valueOf(q, 0, i, call);
        checks.push_back({r, 0, w, "ar recv"});
      }
      if (res != mixcclSuccess) {
        rankCheck(false, rank, "call %d failed: %s", call, mixcclGetLastError(comm));
        return 1;
      }
      checks.back().what += " call " + std::to_string(call);
      if (checks.size() >= 2) checks[checks.size() - 2].what += " call " + std::to_string(call);
    }
    g.sync();
    for (Check& ch : checks) {
      std::vector<int32_t> got(ch.b->n);
      if (ch.b->dev) {
        std::vector<char> bytes = g.download(ch.b->p, ch.b->n * 4);
        memcpy(got.data(), bytes.data(), bytes.size());
      } else {
        got = ch.b->host;
      }
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != ch.want[i]) {
          rankCheck(false, rank, "%s (%s): element %zu is %d want %d", ch.what.c_str(), ch.b->dev ? "dev" : "host", i,
                    got[i], ch.want[i]);
          ++failures;
          break;
        }
      }
    }
    return destroyClean(comm, rank, failures == 0);
  };
  for (int n : {2, 3}) {
    auto result = runRanks(n, body, 300);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
    EXPECT_NE(result.output.find("collectives meet in one shared segment"), std::string::npos);
    EXPECT_EQ(result.output.find("shared segment:"), std::string::npos);
  }
}

// Reduce-scatter, all-gather and broadcast in place on device buffers, in one group (staged whole, then run as ops of
// their own through the segment).
TEST(SharedReduce, AGroupOfInPlaceCollectivesOnDeviceBuffers) {
  const auto env = sharedOn();
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t c = 30011;
    std::vector<int32_t> rs(c * n), ag(c * n, -5), bc(c);
    for (size_t i = 0; i < rs.size(); ++i) rs[i] = valueOf(rank, int(i / c), i % c, 1);
    for (uint64_t i = 0; i < c; ++i) ag[rank * c + i] = valueOf(rank, 0, i, 2);
    for (uint64_t i = 0; i < c; ++i) bc[i] = rank == 0 ? valueOf(0, 0, i, 3) : -5;
    auto up = [&](const std::vector<int32_t>& v) {
      std::vector<char> b(v.size() * 4);
      memcpy(b.data(), v.data(), b.size());
      return g.upload(b);
    };
    void* drs = up(rs);
    void* dag = up(ag);
    void* dbc = up(bc);
    g.sync();
    mixcclGroupStart();
    mixcclReduceScatter(drs, static_cast<char*>(drs) + rank * c * 4, c, mixcclInt32, mixcclSum, comm, g.stream());
    mixcclAllGather(static_cast<char*>(dag) + rank * c * 4, dag, c, mixcclInt32, comm, g.stream());
    mixcclBroadcast(dbc, dbc, c, mixcclInt32, 0, comm, g.stream());
    mixcclResult_t res = mixcclGroupEnd();
    if (res != mixcclSuccess) {
      rankCheck(false, rank, "group: %s", mixcclGetLastError(comm));
      return 1;
    }
    int failures = 0;
    auto down = [&](void* p, size_t elems) {
      std::vector<char> b = g.download(p, elems * 4);
      std::vector<int32_t> v(elems);
      memcpy(v.data(), b.data(), b.size());
      return v;
    };
    std::vector<int32_t> grs = down(drs, c * n), gag = down(dag, c * n), gbc = down(dbc, c);
    for (uint64_t i = 0; i < c; ++i) {
      int32_t w = 0;
      for (int q = 0; q < n; ++q) w += valueOf(q, rank, i, 1);
      if (grs[rank * c + i] != w) {
        ++failures;
        rankCheck(false, rank, "rs %llu", (unsigned long long)i);
        break;
      }
    }
    for (int b = 0; b < n; ++b)
      for (uint64_t i = 0; i < c; ++i) {
        if (b != rank && grs[b * c + i] != valueOf(rank, b, i, 1)) {
          ++failures;
          rankCheck(false, rank, "rs send changed");
          b = n;
          break;
        }
      }
    for (int b = 0; b < n; ++b)
      for (uint64_t i = 0; i < c; ++i) {
        if (gag[b * c + i] != valueOf(b, 0, i, 2)) {
          ++failures;
          rankCheck(false, rank, "ag %d %llu", b, (unsigned long long)i);
          b = n;
          break;
        }
      }
    for (uint64_t i = 0; i < c; ++i)
      if (gbc[i] != valueOf(0, 0, i, 3)) {
        ++failures;
        rankCheck(false, rank, "bc");
        break;
      }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  for (int n : {2, 3}) {
    auto result = runRanks(n, body, 300);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

}  // namespace
}  // namespace mixccl

// Several ranks of one process on one (emulated) GPU, the communicators of mixcclCommInitAll driven by one thread:
// * every rank's calls on the SAME stream in a group (core/fork_stream.h), through gpu_ipc (rounds and fused kernels)
//   and through the staged path. Without the fork each rank's collective would wait on that stream for the others'
//   parts queued behind it: gpu_ipc hung, the staged path failed at MIXCCL_TIMEOUT with wrong results;
// * host-memory calls in a group (core/group.cc: a thread per communicator, since each is done on return);
// * the same outside a group, which gpu_ipc refuses (transports/gpu_ipc/process_share.h) rather than hang;
// * one rank's abort, which the others are told of (no silent garbage from their released waits), and which its own
//   rounds still queued at the time do not undo;
// * streams sharing the GPU context's hardware queues (the emulated GPU's emulateHardwareQueues): no hang with as few
//   queues as gpu_ipc's default takes; an abort that returns where its release cannot get through;
// * frees that wait for every stream (the emulated GPU's, as cudaFree's): an abort and a staged rank's staging pool
//   must not make them on a thread whose next call another rank's stream waits for.
// On the emulated GPU by default; tests/gpu/run.sh runs it on the device (MIXCCL_TEST_REAL_GPU=1).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "support/emulated_gpu.h"
#include "support/exact_data.h"
#include "support/rank_gpu.h"
#include "support/rank_runner.h"
#include "support/test_gpu.h"

namespace mixccl {
namespace {

// The ranks here that do not use gpu_ipc stage through host memory: where MIXCCL_SHARED_REDUCE is not set, it is
// pinned off, so that its `auto`, which takes ranks that all have a GPU into the shared segment, keeps away.
const bool kStagedPathPinned = setenv("MIXCCL_SHARED_REDUCE", "0", /*overwrite=*/0) == 0;

using testing::rankCheck;
using testing::RankGpu;
using testing::runRanks;

constexpr int kRanks = 3;
constexpr uint64_t kGatherCount = 1001;  // int32 elements of each rank's all-gather block

// One group on g's stream, every rank's calls on it: an in-place all-reduce of `count` floats, then an all-gather of
// kGatherCount int32 per rank. The results are read back after the stream (the group's join) and compared bitwise,
// and no communicator may hold an asynchronous error. Returns the failures (printed).
int groupOnOneStream(RankGpu& g, const std::vector<mixcclComm_t>& comms, uint64_t count, const char* what) {
  const int n = kRanks;
  std::vector<void*> reduced(n), gatherIn(n), gatherOut(n);
  for (int r = 0; r < n; ++r) {
    std::vector<char> in(count * 4), block(kGatherCount * 4);
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
    testdata::fillSend(1, block.data(), kGatherCount, mixcclInt32, mixcclSum, 0, r, n);
    reduced[size_t(r)] = g.upload(in);
    gatherIn[size_t(r)] = g.upload(block);
    gatherOut[size_t(r)] = g.alloc(kGatherCount * 4 * n);
  }
  g.sync();
  bool ok = mixcclGroupStart() == mixcclSuccess;
  for (int r = 0; r < n; ++r) {
    ok &= mixcclAllReduce(reduced[size_t(r)], reduced[size_t(r)], count, mixcclFloat32, mixcclSum, comms[size_t(r)],
                          g.stream()) == mixcclSuccess;
    ok &= mixcclAllGather(gatherIn[size_t(r)], gatherOut[size_t(r)], kGatherCount, mixcclInt32, comms[size_t(r)],
                          g.stream()) == mixcclSuccess;
  }
  ok &= mixcclGroupEnd() == mixcclSuccess;
  int failures = !rankCheck(ok, 0, "%s: the group failed: %s", what, mixcclGetLastError(nullptr));
  std::vector<char> wantReduced(count * 4), wantGathered(kGatherCount * 4 * n);
  testdata::fillExpectedRecv(0, wantReduced.data(), count, mixcclFloat32, mixcclSum, 0, 0, n);
  testdata::fillExpectedRecv(1, wantGathered.data(), kGatherCount, mixcclInt32, mixcclSum, 0, 0, n);
  for (int r = 0; r < n; ++r) {
    const std::vector<char> got = g.download(reduced[size_t(r)], count * 4);
    const std::vector<char> gathered = g.download(gatherOut[size_t(r)], kGatherCount * 4 * n);
    mixcclResult_t async = mixcclSuccess;
    mixcclCommGetAsyncError(comms[size_t(r)], &async);
    failures += !rankCheck(async == mixcclSuccess, r, "%s: asynchronous error %d", what, int(async));
    failures += !rankCheck(testdata::countWrong(got.data(), wantReduced.data(), mixcclFloat32, count) == 0, r,
                           "%s: all-reduce of %llu floats wrong", what, static_cast<unsigned long long>(count));
    failures +=
        !rankCheck(testdata::countWrong(gathered.data(), wantGathered.data(), mixcclInt32, kGatherCount * n) == 0, r,
                   "%s: all-gather wrong", what);
  }
  return failures;
}

// The test's GPU (the emulated one unless MIXCCL_TEST_REAL_GPU=1) and g on it, copying through pinned memory (the
// proxies' runtime calls are then never held up by a copy into pageable memory). False (printed) on failure.
bool openGpu(RankGpu& g) {
  if (testing::testGpuIsEmulated()) testing::installEmulatedGpu(20);
  return g.open(0, size_t(1) << 20);
}

// n communicators of mixcclCommInitAll (all on the one GPU). False (printed, naming `what`) on failure.
bool initAll(int n, std::vector<mixcclComm_t>* comms, const char* what) {
  comms->assign(size_t(n), nullptr);
  return rankCheck(mixcclCommInitAll(comms->data(), n, nullptr) == mixcclSuccess, 0, "%s: init-all failed: %s", what,
                   mixcclGetLastError(nullptr));
}

// Runs `body` (its result the rank's exit code) in a test process, within 60 s, on two ranks of one process through
// gpu_ipc's rounds (not its fused kernels), each on a stream of its own (g[r]) with a device buffer of 1000 floats
// (bufs[r]); comms: their communicators, which the body destroys or aborts.
using TwoIpcRanksBody = int (*)(RankGpu* g, std::vector<mixcclComm_t>& comms, void** bufs);
testing::RankRunResult runOnTwoIpcRanks(TwoIpcRanksBody body) {
  return runRanks(
      1,
      [body](int, int, const mixcclUniqueId&) -> int {
        setenv("MIXCCL_GPU_IPC", "1", 1);
        setenv("MIXCCL_GPU_IPC_FUSED", "0", 1);
        RankGpu g[2];
        for (RankGpu& one : g) {
          if (!openGpu(one)) return 1;
        }
        std::vector<mixcclComm_t> comms;
        if (!initAll(2, &comms, "two ranks")) return 1;
        void* bufs[2] = {g[0].upload(std::vector<char>(4000, 1)), g[1].upload(std::vector<char>(4000, 1))};
        return body(g, comms, bufs);
      },
      60);
}

// Two ranks of one process through gpu_ipc's rounds (not its fused kernels), both to use g's stream: g opened and
// their communicators made. False (printed) on failure.
bool twoIpcRanksOnOneStream(RankGpu& g, std::vector<mixcclComm_t>* comms) {
  setenv("MIXCCL_GPU_IPC", "1", 1);
  setenv("MIXCCL_GPU_IPC_FUSED", "0", 1);
  return openGpu(g) && initAll(2, comms, "two ranks");
}

// gpu_ipc's direct all-reduce rounds enqueued so far, fused or not (0 on a real GPU: only the emulation counts them).
size_t directRounds() {
  if (!testing::testGpuIsEmulated()) return 0;
  testing::EmulatedGpu& emu = testing::installEmulatedGpu();
  return emu.reduceToAllCalls() + emu.fusedDirectCalls();
}

// How one-thread groups on one stream are run: gpu_ipc (ipc "1", or nullptr for its default, which must take gpu_ipc)
// or staging ("0"), and gpu_ipc's fused kernels or not.
struct GroupSetting {
  const char* name;
  const char* ipc;
  const char* fused;
};

// kRanks communicators made with `s`, then `repeats` times a group above gpu_ipc's one-shot size (direct rounds) and
// one below it on g's stream (the later groups reuse the forks); then destroyed. The path must be the one named: a
// direct round per rank and large group through gpu_ipc, none when staged (the emulation counts them). Returns the
// failures (printed).
int groupsOnOneStream(RankGpu& g, const GroupSetting& s, int repeats) {
  if (s.ipc != nullptr) {
    setenv("MIXCCL_GPU_IPC", s.ipc, 1);
  } else {
    unsetenv("MIXCCL_GPU_IPC");
  }
  setenv("MIXCCL_GPU_IPC_FUSED", s.fused, 1);
  std::vector<mixcclComm_t> comms;
  if (!initAll(kRanks, &comms, s.name)) return 1;
  int failures = 0;
  size_t direct = 0;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const size_t before = directRounds();
    failures += groupOnOneStream(g, comms, 70001, s.name);
    direct += directRounds() - before;
    failures += groupOnOneStream(g, comms, 100, s.name);
  }
  const size_t want = s.ipc == nullptr || s.ipc[0] == '1' ? size_t(repeats * kRanks) : 0;
  failures += !rankCheck(!testing::testGpuIsEmulated() || direct == want, 0,
                         "%s: %zu direct all-reduce rounds for the large groups, want %zu", s.name, direct, want);
  for (mixcclComm_t c : comms) mixcclCommDestroy(c);
  return failures;
}

// groupsOnOneStream() with each of `settings` in turn, on a stream of the test's GPU; the rank body's exit code.
int groupsOnOneStream(const std::vector<GroupSetting>& settings, int repeats) {
  RankGpu g;
  if (!openGpu(g)) return 1;
  int failures = 0;
  for (const GroupSetting& s : settings) failures += groupsOnOneStream(g, s, repeats);
  return failures == 0 ? 0 : 1;
}

TEST(RanksOfOneProcess, OnOneStreamInAGroupRunTogether) {
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    setenv("MIXCCL_TIMEOUT", "10", 1);
    return groupsOnOneStream({GroupSetting{"gpu_ipc rounds", "1", "0"}, GroupSetting{"gpu_ipc fused kernels", "1", "1"},
                              GroupSetting{"staged through host memory", "0", "0"}},
                             1);
  };
  auto result = runRanks(1, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, OnOneStreamInAGroupRunTogetherWithAsFewHardwareQueuesAsGpuIpcTakes) {
  // The GPU context's streams share its hardware queues (CUDA_DEVICE_MAX_CONNECTIONS), where a stream wait at a
  // queue's head holds up every stream behind it. gpu_ipc's default takes ranks as threads where 2 queues per rank
  // and a spare are there; with no more than that, the ranks' rounds, the forks of the shared stream, their joins and
  // the library's own streams must still get through. The emulated GPU assigns streams to queues round robin, as CUDA
  // is understood to; on a GPU the context gets that many queues.
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    setenv("MIXCCL_TIMEOUT", "10", 1);
    const int queues = 2 * kRanks + 1;
    if (testing::testGpuIsEmulated()) {
      testing::installEmulatedGpu(20).emulateHardwareQueues(queues);
    } else {
      setenv("CUDA_DEVICE_MAX_CONNECTIONS", std::to_string(queues).c_str(), 1);  // before CUDA starts here
    }
    return groupsOnOneStream({GroupSetting{"gpu_ipc rounds (its default)", nullptr, "0"},
                              GroupSetting{"gpu_ipc fused kernels (its default)", nullptr, "1"}},
                             3);
  };
  auto result = runRanks(1, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, EachOnAThreadMixingHostAndDeviceCallsWithTwoHardwareQueuesPerRankAndASpare) {
  // 4 ranks as threads, each on a stream of its own, with 9 queues (as few as gpu_ipc's default takes: with CUDA's
  // default 8 this hung on an H200 in one of two runs, perf/RESULTS.md run 7): device all-reduces on the rank's
  // stream and host-memory ones (the perf tools' barriers, on gpu_ipc's own stream for host buffers), back to back.
  // Every stream the library creates up front is one more that shares a queue with another rank's stream; a wait of
  // one at a queue's head then holds up the work the other must do first (on the emulated GPU, an abort stream
  // created at init hung 5 of 6 runs so).
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    constexpr int n = 4;
    unsetenv("MIXCCL_GPU_IPC");
    setenv("MIXCCL_GPU_IPC_FUSED", "0", 1);
    setenv("CUDA_DEVICE_MAX_CONNECTIONS", "9", 1);  // before CUDA starts here (on the emulated GPU, its queues)
    RankGpu g[n];
    for (RankGpu& one : g) {
      if (!openGpu(one)) return 1;
    }
    std::vector<mixcclComm_t> comms;
    if (!initAll(n, &comms, "four ranks")) return 1;
    const size_t before = directRounds();
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
      threads.emplace_back([&, r] {
        const uint64_t count = 70001;  // direct rounds on device buffers
        for (int round = 0; round < 4; ++round) {
          std::vector<char> in(count * 4), want(count * 4), host(64 * 4), hostWant(64 * 4);
          testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
          testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
          testdata::fillSend(0, host.data(), 64, mixcclFloat32, mixcclSum, 0, r, n);
          testdata::fillExpectedRecv(0, hostWant.data(), 64, mixcclFloat32, mixcclSum, 0, r, n);
          void* buf = g[r].upload(in);
          bool ok = mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comms[size_t(r)], g[r].stream()) ==
                    mixcclSuccess;
          ok &= mixcclAllReduce(host.data(), host.data(), 64, mixcclFloat32, mixcclSum, comms[size_t(r)],
                                g[r].stream()) == mixcclSuccess;
          const std::vector<char> got = g[r].download(buf, count * 4);
          ok = rankCheck(ok, r, "a call failed: %s", mixcclGetLastError(comms[size_t(r)])) &&
               rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, r,
                         "device all-reduce wrong") &&
               rankCheck(testdata::countWrong(host.data(), hostWant.data(), mixcclFloat32, 64) == 0, r,
                         "host all-reduce wrong");
          if (!ok) ++failures;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const size_t direct = directRounds() - before;
    int bad = failures.load();
    bad += !rankCheck(!testing::testGpuIsEmulated() || direct == size_t(4 * n), 0,
                      "%zu direct all-reduce rounds, want %d (gpu_ipc by default)", direct, 4 * n);
    for (mixcclComm_t c : comms) mixcclCommDestroy(c);
    return bad == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 60);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, OnHostBuffersInAGroupRunTogether) {
  // Host-memory calls of gpu_ipc and of staging communicators are done when they return, so one thread launching
  // them one after another waited in the first for ranks it had not launched yet: gpu_ipc hung, staging timed out.
  // The group launches each communicator's calls on a thread of its own. The staging communicators have staged a
  // call on device buffers first (from then on their calls go through their proxies).
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    setenv("MIXCCL_TIMEOUT", "10", 1);
    setenv("MIXCCL_GPU_IPC_FUSED", "0", 1);
    RankGpu g;
    if (!openGpu(g)) return 1;
    int failures = 0;
    for (const char* ipc : {"1", "0"}) {
      setenv("MIXCCL_GPU_IPC", ipc, 1);
      const char* what = ipc[0] == '1' ? "gpu_ipc" : "staged";
      std::vector<mixcclComm_t> comms;
      if (!initAll(kRanks, &comms, what)) return failures + 1;
      if (ipc[0] == '0') failures += groupOnOneStream(g, comms, 100, what);
      const uint64_t count = 300007;  // more than gpu_ipc's pinned bounce buffer and its one-shot size
      std::vector<std::vector<char>> bufs(kRanks, std::vector<char>(count * 4));
      for (int r = 0; r < kRanks; ++r) {
        testdata::fillSend(0, bufs[size_t(r)].data(), count, mixcclFloat32, mixcclSum, 0, r, kRanks);
      }
      bool ok = mixcclGroupStart() == mixcclSuccess;
      for (int r = 0; r < kRanks; ++r) {
        ok &= mixcclAllReduce(bufs[size_t(r)].data(), bufs[size_t(r)].data(), count, mixcclFloat32, mixcclSum,
                              comms[size_t(r)], g.stream()) == mixcclSuccess;
      }
      ok &= mixcclGroupEnd() == mixcclSuccess;
      failures +=
          !rankCheck(ok, 0, "%s: the group of host-memory all-reduces failed: %s", what, mixcclGetLastError(nullptr));
      std::vector<char> want(count * 4);
      testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, 0, kRanks);
      for (int r = 0; r < kRanks; ++r) {
        failures += !rankCheck(testdata::countWrong(bufs[size_t(r)].data(), want.data(), mixcclFloat32, count) == 0, r,
                               "%s: host-memory all-reduce wrong", what);
      }
      for (mixcclComm_t c : comms) mixcclCommDestroy(c);
    }
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, OnOneStreamOutsideAGroupTheSecondIsRefusedAndAbortReleasesTheFirst) {
  // gpu_ipc, two ranks of one process, one thread, no group: rank 0's all-reduce is enqueued on the stream and waits
  // there for rank 1's part; rank 1's on the same stream would queue behind that wait (a hang no time-out ends), so
  // it is refused, naming the problem. Aborting the communicators then lets rank 0's stream go on (with an invalid
  // result): the stream's later work runs.
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    RankGpu g;
    std::vector<mixcclComm_t> comms;
    if (!twoIpcRanksOnOneStream(g, &comms)) return 1;
    std::vector<void*> bufs = {g.upload(std::vector<char>(4000, 1)), g.upload(std::vector<char>(4000, 1))};
    g.sync();
    int failures = 0;
    failures += !rankCheck(
        mixcclAllReduce(bufs[0], bufs[0], 1000, mixcclFloat32, mixcclSum, comms[0], g.stream()) == mixcclSuccess, 0,
        "the first rank's call failed: %s", mixcclGetLastError(comms[0]));
    const mixcclResult_t second =
        mixcclAllReduce(bufs[1], bufs[1], 1000, mixcclFloat32, mixcclSum, comms[1], g.stream());
    const std::string why = mixcclGetLastError(comms[1]);
    failures += !rankCheck(second == mixcclInvalidUsage && why.find("rank 0 of this process") != std::string::npos &&
                               why.find("group") != std::string::npos,
                           1,
                           "the second rank's call on the same stream gave %d (%s), want mixcclInvalidUsage naming "
                           "rank 0 and the remedy",
                           int(second), why.c_str());
    for (mixcclComm_t c : comms) mixcclCommAbort(c);
    g.sync();  // returns: the abort released rank 0's wait
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 60);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, AbortReturnsWhereTheStreamThatReleasesWaitsBehindAHeldQueue) {
  // gpu_ipc forced onto one hardware queue for every stream: rank 0's all-reduce waits at the queue's head for rank
  // 1, which never calls. Aborting must still return (the library's stream that would release the wait queues behind
  // it; nothing can get through), saying why, rather than hang in the abort the application called to get out.
  if (!testing::testGpuIsEmulated()) {
    GTEST_SKIP() << "emulated queues only (a real context would be left with a stream held for ever)";
  }
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    testing::installEmulatedGpu(20).emulateHardwareQueues(1);
    // Never destroyed: its stream stays held, and freeing its buffers would wait for every stream to drain (as
    // cudaFree does) for ever. The process ends with it.
    RankGpu& g = *new RankGpu();
    std::vector<mixcclComm_t> comms;
    if (!twoIpcRanksOnOneStream(g, &comms)) return 1;
    void* buf = g.upload(std::vector<char>(4000, 1));
    g.sync();
    int failures = !rankCheck(
        mixcclAllReduce(buf, buf, 1000, mixcclFloat32, mixcclSum, comms[0], g.stream()) == mixcclSuccess, 0,
        "the all-reduce failed: %s", mixcclGetLastError(comms[0]));
    const auto start = std::chrono::steady_clock::now();
    for (mixcclComm_t c : comms) mixcclCommAbort(c);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    failures += !rankCheck(secs < 45, 0, "the aborts took %.0f s", secs);
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 90);
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_NE(result.output.find("the flag writes that release the stream waits did not run"), std::string::npos)
      << result.output;
}

TEST(RanksOfOneProcess, WhenOneAbortsTheOthersAreToldAndTheirCallsFail) {
  // gpu_ipc, two ranks of one process, each on a stream of its own: once rank 0 aborts, rank 1's waits on it pass
  // (its rounds would read whatever rank 0 left), so rank 1's communicator gets an asynchronous error naming the
  // abort, and its next call fails rather than computing garbage.
  auto result = runOnTwoIpcRanks([](RankGpu* g, std::vector<mixcclComm_t>& comms, void** bufs) -> int {
    int failures = 0;
    bool ok = mixcclGroupStart() == mixcclSuccess;
    for (int r = 0; r < 2; ++r) {
      ok &= mixcclAllReduce(bufs[r], bufs[r], 1000, mixcclFloat32, mixcclSum, comms[size_t(r)], g[r].stream()) ==
            mixcclSuccess;
    }
    ok &= mixcclGroupEnd() == mixcclSuccess;
    for (int r = 0; r < 2; ++r) g[r].sync();
    failures += !rankCheck(ok, 0, "the first group failed: %s", mixcclGetLastError(nullptr));
    mixcclCommAbort(comms[0]);
    mixcclResult_t async = mixcclSuccess;
    mixcclCommGetAsyncError(comms[1], &async);
    failures += !rankCheck(async == mixcclRemoteError, 1, "asynchronous error %d after rank 0 aborted, want %d",
                           int(async), int(mixcclRemoteError));
    const mixcclResult_t next =
        mixcclAllReduce(bufs[1], bufs[1], 1000, mixcclFloat32, mixcclSum, comms[1], g[1].stream());
    const std::string why = mixcclGetLastError(comms[1]);
    failures += !rankCheck(next == mixcclRemoteError && why.find("rank 0") != std::string::npos &&
                               why.find("aborted") != std::string::npos,
                           1, "a call after rank 0 aborted gave %d (%s), want mixcclRemoteError naming the abort",
                           int(next), why.c_str());
    mixcclCommDestroy(comms[1]);
    return failures == 0 ? 0 : 1;
  });
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, AnAbortOutlastsTheAbortingRanksOwnQueuedRounds) {
  // gpu_ipc, two ranks of one process, each on a stream of its own held at a gate. Rank 1 enqueues three
  // all-reduces, rank 0 one, then rank 0 aborts. Its round, once its gate opens (while the abort waits for its
  // stream), runs through the released waits and writes its own arrival flag, undoing the release of that word;
  // rank 1's third round waits on that very word. Rank 0's teardown, once its stream is done, releases its flags
  // again, so rank 1's stream gets through (else it would wait forever: killed at the time limit).
  auto result = runOnTwoIpcRanks([](RankGpu* g, std::vector<mixcclComm_t>& comms, void** bufs) -> int {
    for (int r = 0; r < 2; ++r) {
      g[r].sync();
      g[r].closeGate();
    }
    bool ok = true;
    for (int call = 0; call < 3; ++call) {
      ok &= mixcclAllReduce(bufs[1], bufs[1], 1000, mixcclFloat32, mixcclSum, comms[1], g[1].stream()) == mixcclSuccess;
    }
    ok &= mixcclAllReduce(bufs[0], bufs[0], 1000, mixcclFloat32, mixcclSum, comms[0], g[0].stream()) == mixcclSuccess;
    std::thread opener([&g] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      g[0].openGate();
    });
    mixcclCommAbort(comms[0]);  // its teardown waits (bounded) for rank 0's stream, which the opener lets go
    opener.join();
    g[1].openGate();
    g[1].sync();
    mixcclCommDestroy(comms[1]);
    return rankCheck(ok, 0, "enqueueing the all-reduces failed: %s", mixcclGetLastError(nullptr)) ? 0 : 1;
  });
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(RanksOfOneProcess, EachOnAThreadStagedTheirStagingPoolsGrowRatherThanFreeWhileCallsAreInFlight) {
  // 2 ranks as threads, staged, with room for one 32 KiB staging buffer: the calls alternate 16 and 32 KiB, so at its
  // first 32 KiB call rank 0's pool holds a cached 16 KiB buffer and needs a 32 KiB one. Rank 1 has queued that call
  // by then, its stream waiting for a proxy that waits for rank 0's part. A free then, on any thread, would wait for
  // every stream to drain while holding up rank 0's own launches and allocations (the driver's lock:
  // device/deferred_free.h), for ever; on an H200 this test hung so (perf/RESULTS.md, run 7) when the pool freed its
  // cached buffer through the background thread to stay within its limit. Cached buffers no longer count against the
  // limit, and stay. Last in this file, so that a hang costs no other test.
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    constexpr int n = 2;
    setenv("MIXCCL_GPU_IPC", "0", 1);
    setenv("MIXCCL_DEVICE_STEPS", "0", 1);
    setenv("MIXCCL_STAGED_PIECE_BYTES", "0", 1);
    setenv("MIXCCL_STAGING_MAX_BYTES", "32K", 1);
    RankGpu g[n];
    for (RankGpu& one : g) {
      if (!openGpu(one)) return 1;
    }
    std::vector<mixcclComm_t> comms;
    if (!initAll(n, &comms, "two ranks")) return 1;
    constexpr int kCalls = 6;
    std::atomic<int> queued{-1};  // the last call rank 1 has queued
    std::atomic<int> failures{0};
    auto rank = [&](int r) {
      for (int call = 0; call < kCalls; ++call) {
        const uint64_t count = call % 2 == 0 ? 4096 : 8192;
        std::vector<char> in(count * 4), want(count * 4);
        testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
        testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
        void* buf = g[r].upload(in);
        g[r].sync();
        if (r == 0) {
          while (queued.load() < call) std::this_thread::yield();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // rank 1's stream is on its wait
        }
        bool ok = mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comms[size_t(r)], g[r].stream()) ==
                  mixcclSuccess;
        if (r == 1) queued.store(call);
        const std::vector<char> got = g[r].download(buf, count * 4);
        ok = rankCheck(ok, r, "call %d failed: %s", call, mixcclGetLastError(comms[size_t(r)])) &&
             rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, r,
                       "call %d: wrong result", call);
        if (!ok) ++failures;
      }
    };
    std::thread one(rank, 1);
    rank(0);
    one.join();
    for (mixcclComm_t c : comms) mixcclCommDestroy(c);
    return failures.load() == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 20);
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

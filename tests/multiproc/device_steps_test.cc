// Staged calls that reduce on the GPU, straight out of and into the transports' slots (core/device_steps.h):
// every collective and a ring of sends exact with peers on other hosts (a network transport: MIXCCL_DEVICE_STEPS=auto
// uses them there) and on one host when asked for (MIXCCL_DEVICE_STEPS=1, shared memory). On the emulated GPU the
// test also sees that the kernels ran, that no buffer went through pinned staging memory, and that every slot
// registration is undone at destroy; the emulation faults a kernel on host memory that was not registered, and
// the last test checks that it does. With MIXCCL_TEST_REAL_GPU=1 (tests/gpu/run.sh) the same runs use the device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/emulated_gpu.h"
#include "support/exact_data.h"
#include "support/rank_gpu.h"
#include "support/rank_runner.h"
#include "support/stderr_capture.h"
#include "support/test_gpu.h"
#include "support/transport_probe.h"

namespace mixccl {
namespace {

// These tests are of the staged path's device steps: where MIXCCL_SHARED_REDUCE is not set, it is pinned off, so that
// its `auto`, which takes ranks that all have a GPU into the shared segment, keeps away whichever default it has.
const bool kStagedPathPinned = setenv("MIXCCL_SHARED_REDUCE", "0", /*overwrite=*/0) == 0;

using testing::initRankComm;
using testing::rankCheck;
using testing::RankGpu;
using testing::runRanks;

// Peers on other hosts: every rank claims a host of its own, and they meet over UCX (TCP on loopback).
void useOtherHosts() {
  setenv("MIXCCL_TRANSPORTS", "ucx", 1);
  setenv("UCX_TLS", "tcp", 1);
  setenv("UCX_NET_DEVICES", "lo", 1);
}

void clearEnv() {
  for (const char* v : {"MIXCCL_TRANSPORTS", "UCX_TLS", "UCX_NET_DEVICES", "MIXCCL_DEVICE_STEPS", "MIXCCL_GPU_IPC"}) {
    unsetenv(v);
  }
}

std::string otherHostsUnavailable() { return testing::ucxUnavailable("ucx-tcp-lo", "tcp", useOtherHosts); }

// Every collective (fp32 sum and bf16 avg; a short and a many-chunk count; in and out of place) and a ring of
// sends on `comm`, checked exactly; returns the number of failures.
int runCollectives(RankGpu& g, mixcclComm_t comm, int rank, int n) {
  int failures = 0;
  for (int coll = 0; coll < 5; ++coll) {
    for (auto [dt, op] : {std::pair{mixcclFloat32, mixcclSum}, std::pair{mixcclBfloat16, mixcclAvg}}) {
      for (uint64_t count : {5ull, 200003ull}) {
        for (bool inPlace : {false, true}) {
          failures += testing::runDeviceCollective(g, comm, coll, count, dt, op, inPlace, rank, n);
        }
      }
    }
  }
  return failures + testing::runDeviceSendRecvRing(g, comm, 70001, mixcclFloat32, rank, n);
}

// runCollectives on a communicator of its own rank. Then, on the emulation: whether two-input reduce kernels ran
// must match `onGpu`, nothing may have been staged through pinned memory when `onGpu`, and no slot registration may
// outlive the communicator.
// `ranksPerHost` > 0: ranks claim hosts of their own, that many (consecutive ranks) per host.
int collectivesBody(int rank, int n, const mixcclUniqueId& id, int ranksPerHost, bool onGpu) {
  if (ranksPerHost > 0) {
    setenv("MIXCCL_HOSTNAME", ("device-steps-host-" + std::to_string(rank / ranksPerHost)).c_str(), 1);
  }
  RankGpu g;
  if (!g.open(rank)) return 1;
  mixcclComm_t comm = initRankComm(rank, n, id);
  if (comm == nullptr) return 1;
  int failures = runCollectives(g, comm, rank, n);
  mixcclCommDestroy(comm);
  if (testing::testGpuIsEmulated()) {
    auto& emu = static_cast<testing::EmulatedGpu&>(*g.gpu());
    failures += rankCheck((emu.reduceCalls() > 0) == onGpu, rank, "%zu reduce kernels ran; expected %s",
                          emu.reduceCalls(), onGpu ? "some (device steps)" : "none (the CPU reduces)")
                    ? 0
                    : 1;
    if (onGpu) {
      // The flag word the streams wait on and the step server's command queue are the only pinned memory.
      failures += rankCheck(emu.peakPinnedBytes() <= sizeof(kernels::StepQueue) + 64, rank,
                            "%zu bytes went through pinned staging memory", emu.peakPinnedBytes())
                      ? 0
                      : 1;
    }
    failures += rankCheck(emu.liveHostRegistrations() == 0, rank, "%zu slot registration(s) left after destroy",
                          emu.liveHostRegistrations())
                    ? 0
                    : 1;
    failures += rankCheck((emu.stepServers() > 0) == onGpu && emu.stepFaults() == 0, rank,
                          "%zu step servers ran (expected %s), %zu steps touched memory a device cannot reach",
                          emu.stepServers(), onGpu ? "some" : "none", emu.stepFaults())
                    ? 0
                    : 1;
  }
  return failures == 0 ? 0 : 1;
}

TEST(DeviceSteps, AutoReducesOnTheGpuStraightFromTheSlotsWithPeersOnOtherHosts) {
  // MIXCCL_DEVICE_STEPS=auto; unset (0), the same ranks stage through host memory.
  const std::string why = otherHostsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  for (bool asked : {true, false}) {
    useOtherHosts();
    if (asked) setenv("MIXCCL_DEVICE_STEPS", "auto", 1);
    auto result = runRanks(
        3,
        [asked](int rank, int n, const mixcclUniqueId& id) {
          return collectivesBody(rank, n, id, /*ranksPerHost=*/1, /*onGpu=*/asked);
        },
        300);
    clearEnv();
    EXPECT_TRUE(result.ok) << (asked ? "auto" : "by default") << ":\n" << result.report;
  }
}

TEST(DeviceSteps, AutoNotWhereProcessesTimeSliceTheGpuUnlessMpsRuns) {
  // Two hosts of two ranks each: peers on another host, but each rank's GPU is shared with another process of its
  // host (the emulated GPU is one device), which without MPS would make every step wait for a context switch.
  const std::string why = otherHostsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  for (bool mps : {false, true}) {
    useOtherHosts();
    setenv("MIXCCL_DEVICE_STEPS", "auto", 1);
    if (mps) setenv("CUDA_MPS_PIPE_DIRECTORY", "/tmp/mixccl-test-mps-pipe", 1);
    auto result = runRanks(
        4,
        [mps](int rank, int n, const mixcclUniqueId& id) {
          return collectivesBody(rank, n, id, /*ranksPerHost=*/2, /*onGpu=*/mps);
        },
        300);
    unsetenv("CUDA_MPS_PIPE_DIRECTORY");
    clearEnv();
    EXPECT_TRUE(result.ok) << (mps ? "with" : "without") << " MPS:\n" << result.report;
  }
}

TEST(DeviceSteps, RanksOfOneHostReduceOnTheGpuWhenAskedOverSharedMemory) {
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  auto result = runRanks(
      4,
      [](int rank, int n, const mixcclUniqueId& id) {
        return collectivesBody(rank, n, id, /*ranksPerHost=*/0, /*onGpu=*/true);
      },
      300);
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, RanksOfOneHostReduceOnTheCpuByDefault) {
  // By default, that is, of MIXCCL_DEVICE_STEPS; the shared segment is pinned off in this file (see the top).
  clearEnv();
  auto result = runRanks(
      2,
      [](int rank, int n, const mixcclUniqueId& id) {
        return collectivesBody(rank, n, id, /*ranksPerHost=*/0, /*onGpu=*/false);
      },
      300);
  EXPECT_TRUE(result.ok) << result.report;
}

// Three ranks as threads of one process, MIXCCL_DEVICE_STEPS=1: one GPU context for every rank (no time-slicing
// between processes), each rank reducing on the GPU while its peers' threads enqueue theirs. The test's copies go
// through pinned memory: a thread blocked in a copy into pageable memory would hold up the other ranks' threads
// in the runtime before they enqueue their calls, which its job needs (core/device_steps.h).
int threadsOfOneProcessBody(const mixcclUniqueId& id) {
  const int n = 3;
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  setenv("MIXCCL_GPU_IPC", "0", 1);  // its default takes ranks as threads through gpu_ipc
  std::vector<int> failures(n, 0);
  std::vector<std::thread> threads;
  GpuBackend* gpu = nullptr;
  // Freeing device or pinned memory waits for the whole device, so no rank frees any (destroy, RankGpu) while a
  // peer's proxy may still launch steps.
  std::barrier allDone(n);
  for (int rank = 0; rank < n; ++rank) {
    threads.emplace_back([&, rank] {
      RankGpu g;
      int& f = failures[size_t(rank)];
      if (!g.open(rank, size_t(1) << 20)) {
        f = 1;
        allDone.arrive_and_drop();
        return;
      }
      if (rank == 0) gpu = g.gpu();
      mixcclComm_t comm = initRankComm(rank, n, id);
      if (comm == nullptr) {
        f = 1;
        allDone.arrive_and_drop();
        return;
      }
      f += runCollectives(g, comm, rank, n);
      allDone.arrive_and_wait();
      mixcclCommDestroy(comm);
    });
  }
  for (std::thread& t : threads) t.join();
  int total = 0;
  for (int f : failures) total += f;
  if (gpu != nullptr && testing::testGpuIsEmulated()) {
    auto& emu = static_cast<testing::EmulatedGpu&>(*gpu);
    total += !rankCheck(emu.reduceCalls() > 0, 0, "no reduce kernel ran (the CPU reduced)");
    // Every rank's every call (40 collectives and a group of sends) had a step server: none fell back to staging.
    total += !rankCheck(emu.stepServers() == size_t(n) * 41, 0, "%zu step servers ran, want %d", emu.stepServers(),
                        n * 41);
    total += !rankCheck(emu.stepFaults() == 0, 0, "%zu steps touched memory a device cannot reach", emu.stepFaults());
    total += !rankCheck(emu.liveHostRegistrations() == 0, 0, "%zu slot registration(s) left after destroy",
                        emu.liveHostRegistrations());
  }
  return total == 0 ? 0 : 1;
}

TEST(DeviceSteps, RanksAsThreadsOfOneProcessReduceOnTheGpu) {
  auto result = runRanks(1, [](int, int, const mixcclUniqueId& id) { return threadsOfOneProcessBody(id); }, 300);
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, ProcessesCopyResultsIntoPageableMemoryWhileTheProxyRuns) {
  // One rank per process, as PyTorch runs them: the rank's thread blocks in a copy into pageable memory (as
  // `tensor.cpu()` does) whose stream waits for the job, while the proxy thread runs it. The proxy makes no GPU
  // call, so the runtime lock that copy holds (a device's, and the emulation's) cannot hold it up. Small, so that a
  // real GPU that time-slices the two processes gets through it too.
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  auto result = runRanks(
      2,
      [](int rank, int n, const mixcclUniqueId& id) -> int {
        RankGpu g;
        if (!g.open(rank)) return 1;
        mixcclComm_t comm = initRankComm(rank, n, id);
        if (comm == nullptr) return 1;
        int failures = 0;
        for (uint64_t count : {1000ull, 70001ull}) {
          for (bool inPlace : {false, true}) {
            failures += testing::runDeviceCollective(g, comm, 0, count, mixcclFloat32, mixcclSum, inPlace, rank, n);
          }
        }
        mixcclCommDestroy(comm);
        if (testing::testGpuIsEmulated()) {
          auto& emu = static_cast<testing::EmulatedGpu&>(*g.gpu());
          failures += !rankCheck(emu.stepServers() > 0 && emu.pageableCopies() > 0, rank,
                                 "%zu step servers, %zu pageable copies: not the case under test", emu.stepServers(),
                                 emu.pageableCopies());
        }
        return failures == 0 ? 0 : 1;
      },
      120);
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, TheirTimingIsReportedAtInfoWhenTheCommunicatorEnds) {
  // Three calls, one job each: at teardown the communicator says, at INFO, how many jobs and commands its device
  // steps ran, how long a command took from its queuing to the proxy seeing it done, and how long a job waited for
  // the proxy and then ran.
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  setenv("MIXCCL_DEBUG", "INFO", 1);  // read once per process: the ranks are fresh ones
  auto result = runRanks(2, [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    int failures = 0;
    for (int call = 0; call < 3; ++call) {
      failures += testing::runDeviceCollective(g, comm, 0, 1000, mixcclFloat32, mixcclSum, false, rank, n);
    }
    const std::string err = testing::captureStderr([&] { mixcclCommDestroy(comm); });
    const size_t at = err.find("device steps: 3 jobs, ");
    unsigned long long commands = 0;
    failures += !rankCheck(at != std::string::npos &&
                               std::sscanf(err.c_str() + at, "device steps: 3 jobs, %llu commands", &commands) == 1 &&
                               commands >= 3,
                           rank, "no timing line for 3 jobs at teardown; stderr was: %s", err.c_str());
    // And the jobs' own times: from launch to the proxy's start, and from there to the end.
    const size_t jobs = err.find("a job waited ", at == std::string::npos ? 0 : at);
    double waited = -1, ran = -1;
    failures += !rankCheck(jobs != std::string::npos &&
                               std::sscanf(err.c_str() + jobs, "a job waited %lf us on average from its launch to the "
                                           "proxy's start (behind the jobs before it, too) and ran %lf us",
                                           &waited, &ran) == 2 &&
                               waited >= 0 && ran > 0,
                           rank, "no job times in the timing line; stderr was: %s", err.c_str());
    return failures == 0 ? 0 : 1;
  });
  unsetenv("MIXCCL_DEBUG");
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, RanksThatReduceOnTheGpuAndRanksThatDoNotAgree) {
  // The plans do not depend on where a rank reduces: rank 1 stages through host memory, the others do not.
  auto result = runRanks(
      3,
      [](int rank, int n, const mixcclUniqueId& id) {
        setenv("MIXCCL_DEVICE_STEPS", rank == 1 ? "0" : "1", 1);
        return collectivesBody(rank, n, id, /*ranksPerHost=*/0, /*onGpu=*/rank != 1);
      },
      300);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, ADeviceThatCannotMapHostMemoryInPlaceStagesThroughIt) {
  if (!testing::testGpuIsEmulated()) GTEST_SKIP() << "needs the emulation to play a device without the attribute";
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  auto result = runRanks(
      2,
      [](int rank, int n, const mixcclUniqueId& id) {
        testing::installEmulatedGpu().setMapsHostMemoryInPlace(false);
        return collectivesBody(rank, n, id, /*ranksPerHost=*/0, /*onGpu=*/false);
      },
      300);
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, AGroupOfADeviceStepCallAndAStagedCallIsExact) {
  // The all-reduce's buffers are on the GPU (device steps); the all-gather receives into host memory, so it is
  // staged. Both are in one group, so in one proxy job.
  setenv("MIXCCL_DEVICE_STEPS", "1", 1);
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    if (!g.open(rank)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 100003;
    const mixcclDataType_t dt = mixcclFloat32;
    std::vector<char> arIn(count * 4), arWant(count * 4), agIn(count * 4), agWant(count * 4 * n);
    std::vector<char> agOut(agWant.size(), 0);
    testdata::fillSend(0, arIn.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, arWant.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillSend(1, agIn.data(), count, dt, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(1, agWant.data(), count, dt, mixcclSum, 0, rank, n);
    void* ar = g.upload(arIn);
    void* agSend = g.upload(agIn);
    bool ok = mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclAllReduce(ar, ar, count, dt, mixcclSum, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclAllGather(agSend, agOut.data(), count, dt, comm, g.stream()) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    ok = rankCheck(ok, rank, "group failed: %s", mixcclGetLastError(comm));
    std::vector<char> got = g.download(ar, arWant.size());  // synchronises the stream: the all-gather is done too
    ok &= rankCheck(testdata::countWrong(got.data(), arWant.data(), dt, count) == 0, rank, "all-reduce wrong");
    ok &= rankCheck(testdata::countWrong(agOut.data(), agWant.data(), dt, count * n) == 0, rank, "all-gather wrong");
    mixcclCommDestroy(comm);
    if (testing::testGpuIsEmulated()) {
      auto& emu = static_cast<testing::EmulatedGpu&>(*g.gpu());
      ok &= rankCheck(emu.reduceCalls() > 0, rank, "the all-reduce did not reduce on the GPU");
      ok &= rankCheck(emu.peakPinnedBytes() >= count * 4, rank, "the all-gather was not staged (%zu pinned bytes)",
                      emu.peakPinnedBytes());
    }
    return ok ? 0 : 1;
  });
  clearEnv();
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(DeviceSteps, TheEmulatedGpuFaultsAKernelOnUnregisteredHostMemory) {
  if (!testing::testGpuIsEmulated()) GTEST_SKIP() << "a check of the GPU emulation itself";
  auto& emu = testing::installEmulatedGpu();
  std::vector<float> a(256, 1.f), b(256, 2.f), out(256, 0.f);
  const ReduceSpec spec{mixcclFloat32, mixcclSum, 0};
  EXPECT_NE(emu.reduceAsync(out.data(), a.data(), b.data(), a.size(), spec, nullptr), mixcclSuccess);
  EXPECT_NE(std::string(lastErrorMessage()).find("not device, pinned or registered"), std::string::npos)
      << lastErrorMessage();
  for (auto* v : {&a, &b, &out}) ASSERT_EQ(emu.hostRegister(v->data(), v->size() * sizeof(float)), mixcclSuccess);
  ASSERT_EQ(emu.reduceAsync(out.data(), a.data(), b.data(), a.size(), spec, nullptr), mixcclSuccess);
  ASSERT_EQ(emu.streamSynchronize(nullptr), mixcclSuccess);
  EXPECT_EQ(out[255], 3.f);
  EXPECT_NE(emu.hostRegister(a.data() + 1, 4), mixcclSuccess) << "an overlapping registration was accepted";
  for (auto* v : {&a, &b, &out}) ASSERT_EQ(emu.hostUnregister(v->data()), mixcclSuccess);
  EXPECT_EQ(emu.liveHostRegistrations(), 0u);
  EXPECT_NE(emu.reduceAsync(out.data(), a.data(), b.data(), a.size(), spec, nullptr), mixcclSuccess);
}

}  // namespace
}  // namespace mixccl

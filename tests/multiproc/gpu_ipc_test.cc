// transports/gpu_ipc on the emulated GPU, whose device memory is shared between the rank processes the way one
// GPU's memory is (memfd mappings): all-reduce exact for every type and op, in and out of place, across chunks;
// long runs of all-reduces without a sync (slot reuse between rounds); host buffers; the ranks agreeing on
// MIXCCL_GPU_IPC; and IPC left unused (everyone alike) when a rank has no GPU. The loss of a peer and abort are in
// staged_device_test, which ctest also runs with MIXCCL_GPU_IPC=1.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "support/emulated_gpu.h"
#include "support/exact_data.h"
#include "support/rank_gpu.h"
#include "support/rank_runner.h"
#include "support/scoped_env.h"
#include "support/stderr_capture.h"
#include "transports/gpu_ipc/gpu_ipc.h"

namespace mixccl {
namespace {

// These tests count gpu_ipc's rounds of copies, stream waits and reduce kernels: where MIXCCL_GPU_IPC_FUSED is not
// set, it is pinned off, whichever default it has (the tests of the fused kernels set it).
const bool kRoundsPinned = setenv("MIXCCL_GPU_IPC_FUSED", "0", /*overwrite=*/0) == 0;

using testing::initRankComm;
using testing::rankCheck;
using testing::RankGpu;
using testing::runRanks;

// The ranks' process: the emulated GPU with IPC turned on (both before init), and this rank's stream on it.
testing::EmulatedGpu& ipcRank(RankGpu* g, int rank) {
  setenv("MIXCCL_GPU_IPC", "1", 1);
  testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
  g->open(rank);  // the emulated GPU just installed
  return emu;
}

TEST(GpuIpc, AllReduceIsExactForEveryTypeOpPlacementAndChunking) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    testing::EmulatedGpu& emu = ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    int failures = 0;
    for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32, mixcclFloat8e4m3}) {
      const size_t esz = dataTypeSize(dt);
      for (mixcclRedOp_t op : {mixcclSum, mixcclProd, mixcclMax, mixcclAvg}) {
        // 1 element, a few, and more than two chunks (rounds of both parities in one call).
        for (uint64_t count : {uint64_t(1), uint64_t(1001), uint64_t(GpuIpc::kDefaultChunkBytes / esz * 2 + 12345)}) {
          if (count > 1001 && op != mixcclSum) continue;
          for (bool inPlace : {false, true}) {
            std::vector<char> in(count * esz), want(count * esz);
            testdata::fillSend(0, in.data(), count, dt, op, 0, rank, n);
            testdata::fillExpectedRecv(0, want.data(), count, dt, op, 0, rank, n);
            void* send = g.upload(in);
            void* recv = inPlace ? send : g.upload(std::vector<char>(in.size(), 0x5a));
            if (mixcclAllReduce(send, recv, count, dt, op, comm, g.stream()) != mixcclSuccess) {
              rankCheck(false, rank, "all-reduce failed: %s", mixcclGetLastError(comm));
              return 1;
            }
            std::vector<char> got = g.download(recv, in.size());
            uint64_t wrong = testdata::countWrong(got.data(), want.data(), dt, count);
            failures += !rankCheck(wrong == 0, rank, "dt %d op %d count %llu %s: %llu wrong", dt, op,
                                   static_cast<unsigned long long>(count), inPlace ? "in place" : "out of place",
                                   static_cast<unsigned long long>(wrong));
          }
        }
      }
    }
    // One rank copies its input on its stream (core/device_launch.h: viaSingleRankCopy); more use gpu_ipc.
    if (n == 1) {
      failures += !rankCheck(emu.reduceNCalls() == 0, rank, "one rank reduced with gpu_ipc instead of one copy");
    } else {
      failures += !rankCheck(emu.reduceNCalls() > 0, rank, "gpu_ipc was not used");
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  for (int n : {1, 2, 3, 5}) {
    auto result = runRanks(n, body, 600);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

TEST(GpuIpc, AfterAPeerProcessAbortsTheOthersLaterCallsFail) {
  // Rank 0's abort sets its flags far ahead, so the others' waits on it pass: their rounds would go on with whatever
  // rank 0 left, unnoticed. Its abort notice (through the transports) makes their later calls fail instead. Rank 0
  // stays alive meanwhile, so it is the notice that counts, not its exit.
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = testing::backToBackAllReduces(g, comm, 1, 3000, rank, n);
    if (rank == 0) {
      mixcclCommAbort(comm);
      std::this_thread::sleep_for(std::chrono::seconds(3));
      return ok ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // rank 0 has aborted
    void* buf = g.upload(std::vector<char>(4000, 1));
    const mixcclResult_t res = mixcclAllReduce(buf, buf, 1000, mixcclFloat32, mixcclSum, comm, g.stream());
    const std::string why = mixcclGetLastError(comm);
    ok &= rankCheck(res == mixcclRemoteError && why.find("rank 0 aborted") != std::string::npos, rank,
                    "a call after rank 0 aborted gave %d (%s), want mixcclRemoteError naming rank 0", int(res),
                    why.c_str());
    mixcclCommAbort(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 60);
  EXPECT_TRUE(result.ok) << result.report;
}

// A rank's teardown waits until the peers of other processes have gathered its last round, since until then they may
// read its workspace. After an abort the ranks stop at different rounds: the aborter behind the others (they enqueued
// a call it never made) or ahead (it enqueued one they never make, their later calls failing). Either way a rank
// whose own streams are done reads nobody's workspace any more and must say so, or the others' teardowns wait for a
// round it will never run (10 s, then its workspace is leaked with a warning). Every process stays alive until all
// have torn down, so that it is not the watchdog's notice of an exit that lets the waits pass.
TEST(GpuIpc, AfterAnAbortNoTeardownWaitsForRoundsAPeerNeverRuns) {
  struct Shared {
    std::atomic<int> ready;      // ranks 1.. that have enqueued their calls (and, with rank 0 ahead, run them)
    std::atomic<int> destroyed;  // ranks whose communicator is gone
  };
  auto* shared = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(shared, MAP_FAILED);
  // Until `counter` reaches `value` (at most 30 s).
  auto awaitCount = [](const std::atomic<int>& counter, int value) {
    for (int i = 0; i < 3000 && counter.load() < value; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  for (bool aborterBehind : {true, false}) {
    new (&shared->ready) std::atomic<int>(0);
    new (&shared->destroyed) std::atomic<int>(0);
    auto body = [shared, aborterBehind, awaitCount](int rank, int n, const mixcclUniqueId& id) -> int {
      RankGpu g;
      ipcRank(&g, rank);
      mixcclComm_t comm = initRankComm(rank, n, id);
      if (comm == nullptr) return 1;
      bool ok = testing::backToBackAllReduces(g, comm, 1, 3000, rank, n);
      const int calls = (rank == 0) == aborterBehind ? 1 : 2;  // the second one's results are whatever they are
      const testing::Int32AllReduces extra = testing::prepareInt32AllReduces(g, calls, 3000, rank, n);
      for (int c = 0; c < calls; ++c) ok &= testing::enqueueInt32AllReduce(extra, c, comm, g.stream(), rank);
      double secs = 0;
      if (rank == 0) {
        awaitCount(shared->ready, n - 1);
        const auto start = std::chrono::steady_clock::now();
        mixcclCommAbort(comm);
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } else {
        // Ahead of rank 0 they cannot finish their calls before its abort; behind it, they do (so that no round of
        // theirs rewrites its arrival after the abort's release).
        if (aborterBehind) ++shared->ready;
        g.sync();  // a second round passes the abort's released waits
        if (!aborterBehind) ++shared->ready;
        const auto start = std::chrono::steady_clock::now();
        mixcclCommDestroy(comm);
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      ok &= rankCheck(secs < 8, rank, "its teardown took %.1f s", secs);  // a wait for a round never run: 10 s
      ++shared->destroyed;
      awaitCount(shared->destroyed, n);  // no rank exits (which the others' watchdogs notice) before all are done
      return ok ? 0 : 1;
    };
    auto result = runRanks(3, body, 90);
    EXPECT_TRUE(result.ok) << (aborterBehind ? "aborter behind" : "aborter ahead") << ":\n" << result.report;
    EXPECT_EQ(result.output.find("what may still use its workspace"), std::string::npos) << result.output;
  }
  munmap(shared, sizeof(Shared));
}

TEST(GpuIpc, ManyAllReducesWithoutASyncReuseTheSlotsSafely) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    // Rounds of both parities over and over: a round that reused a slot too early shows as a wrong result.
    bool ok = testing::backToBackAllReduces(g, comm, 60, 3000, rank, n);
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(4, body, 300);
  EXPECT_TRUE(result.ok) << result.report;
}

// Up to GpuIpc::kOneShotBytes a rank reduces every element itself (one round, no exchange of results); above, only
// its 1/n shard. Both kinds back to back, so that slots are reused across them.
TEST(GpuIpc, SmallAllReducesAreOneShotAndLargeOnesSharded) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    testing::EmulatedGpu& emu = ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = true;
    const uint64_t small = GpuIpc::kOneShotBytes / 4, large = GpuIpc::kOneShotBytes / 4 + 1;
    for (uint64_t count : {small, large, small, large}) {
      const size_t before = emu.reduceNElements();
      ok &= testing::backToBackAllReduces(g, comm, 1, count, rank, n);
      const size_t reduced = emu.reduceNElements() - before;
      const size_t want = count == small ? count : count * (rank + 1) / n - count * rank / n;
      ok &= rankCheck(reduced == want, rank, "count %llu: this rank reduced %zu elements, want %zu",
                      static_cast<unsigned long long>(count), reduced, want);
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, HostBuffersCompleteBeforeTheCallReturns) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    testing::EmulatedGpu& emu = ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    // More than the pinned bounce buffer (GpuIpc::kBounceBytes) and than a one-shot round.
    const uint64_t count = 300007;
    std::vector<char> in(count * 4), out(count * 4, 0x5a), want(count * 4);
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclMax, 0, rank, n);
    testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclMax, 0, rank, n);
    bool ok = rankCheck(mixcclAllReduce(in.data(), out.data(), count, mixcclFloat32, mixcclMax, comm, nullptr) ==
                        mixcclSuccess, rank, "all-reduce failed: %s", mixcclGetLastError(comm));
    ok &= rankCheck(testdata::countWrong(out.data(), want.data(), mixcclFloat32, count) == 0, rank, "wrong result");
    ok &= rankCheck(emu.reduceNCalls() > 0, rank, "gpu_ipc was not used");
    // Pageable copies could block this thread behind its stream, which waits for the peers (gpu_ipc.h).
    ok &= rankCheck(emu.pageableCopies() == 0, rank, "%zu copies to or from pageable host memory",
                    emu.pageableCopies());
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

// One float-sum all-reduce of `count` elements with rank `hostRank` on host buffers (the default stream) and the
// others on device buffers, in place, checked exactly. Returns the failures.
int allReduceWithOneRankOnHostBuffers(RankGpu& g, mixcclComm_t comm, uint64_t count, int hostRank, int rank, int n) {
  std::vector<char> in(count * 4), want(count * 4), got(count * 4, 0x5a);
  testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
  testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
  int f = 0;
  if (rank == hostRank) {
    f += !rankCheck(mixcclAllReduce(in.data(), got.data(), count, mixcclFloat32, mixcclSum, comm, nullptr) ==
                    mixcclSuccess, rank, "host all-reduce failed: %s", mixcclGetLastError(comm));
  } else {
    void* buf = g.upload(in);
    f += !rankCheck(mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess,
                    rank, "all-reduce failed: %s", mixcclGetLastError(comm));
    got = g.download(buf, in.size());
  }
  f += !rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, rank,
                  "wrong result of %llu floats with rank %d on host buffers", static_cast<unsigned long long>(count),
                  hostRank);
  return f;
}

// n ranks in this one process (mixcclCommInitAll; a runtime cannot import its own export) on the emulated GPU, which
// must be installed: one group of in-place all-reduces of 70001 floats (above the one-shot size), each on its
// rank's stream, checked exactly, and every rank bound to the one GPU. Returns the failures; *direct: the
// reduce-to-all launches made meanwhile (gpu_ipc's direct rounds; 0 where the calls were staged).
int initAllAndReduce(testing::EmulatedGpu& emu, int n, size_t* direct) {
  std::vector<RankGpu> g(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) g[size_t(r)].open(r);
  std::vector<mixcclComm_t> comms(static_cast<size_t>(n));
  if (!rankCheck(mixcclCommInitAll(comms.data(), n, nullptr) == mixcclSuccess, 0, "init-all failed: %s",
                 mixcclGetLastError(nullptr))) {
    return 1;
  }
  const size_t before = emu.reduceToAllCalls();
  const uint64_t count = 70001;
  std::vector<void*> bufs(static_cast<size_t>(n));
  std::vector<char> want(count * 4);
  testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, 0, n);
  for (int r = 0; r < n; ++r) {
    std::vector<char> in(count * 4);
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, r, n);
    bufs[size_t(r)] = g[size_t(r)].upload(in);
    g[size_t(r)].sync();
  }
  bool ok = mixcclGroupStart() == mixcclSuccess;
  for (int r = 0; r < n; ++r) {
    ok &= mixcclAllReduce(bufs[size_t(r)], bufs[size_t(r)], count, mixcclFloat32, mixcclSum, comms[size_t(r)],
                          g[size_t(r)].stream()) == mixcclSuccess;
  }
  ok &= mixcclGroupEnd() == mixcclSuccess;
  ok = rankCheck(ok, 0, "group failed: %s", mixcclGetLastError(nullptr));
  for (int r = 0; r < n; ++r) {
    std::vector<char> got = g[size_t(r)].download(bufs[size_t(r)], count * 4);
    ok &= rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, r, "wrong result");
  }
  *direct = emu.reduceToAllCalls() - before;
  for (int r = 0; r < n; ++r) {
    int device = -1;
    ok &= rankCheck(mixcclCommDevice(comms[size_t(r)], &device) == mixcclSuccess && device == 0, r,
                    "bound to device %d, want 0 (the one GPU, shared)", device);
    mixcclCommDestroy(comms[size_t(r)]);
  }
  return ok ? 0 : 1;
}

TEST(GpuIpc, SeveralRanksOfOneProcessUseEachOthersMemoryDirectly) {
  auto body = [](int, int, const mixcclUniqueId&) -> int {
    RankGpu g;
    testing::EmulatedGpu& emu = ipcRank(&g, 0);
    size_t direct = 0;
    const int failures = initAllAndReduce(emu, 3, &direct);
    return failures + !rankCheck(direct == 3, 0, "%zu direct rounds, want one per rank", direct);
  };
  auto result = runRanks(1, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, ByDefaultRanksAsThreadsOfOneProcessUseItWhereTheirStreamsFitTheQueues) {
  // MIXCCL_GPU_IPC unset (auto): 3 ranks of one process wait on 6 streams, within a context's 8 hardware queues;
  // 4 ranks wait on 8, which leaves no spare; 5 ranks wait on 10, more, unless CUDA_DEVICE_MAX_CONNECTIONS raises them.
  struct Case {
    int n;
    const char* queues;
    bool used;
  };
  for (const Case c : {Case{3, "", true}, Case{4, "", false}, Case{5, "", false}, Case{5, "32", true}}) {
    auto body = [c](int, int, const mixcclUniqueId&) -> int {
      unsetenv("MIXCCL_GPU_IPC");
      if (c.queues[0] != '\0') {
        setenv("CUDA_DEVICE_MAX_CONNECTIONS", c.queues, 1);
      } else {
        unsetenv("CUDA_DEVICE_MAX_CONNECTIONS");  // CUDA's default, whatever the shell exports
      }
      testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
      size_t direct = 0;
      const int failures = initAllAndReduce(emu, c.n, &direct);
      return failures + !rankCheck((direct > 0) == c.used, 0, "%zu direct rounds: gpu_ipc %s, want it %s", direct,
                                   direct > 0 ? "used" : "not used", c.used ? "used" : "not used");
    };
    auto result = runRanks(1, body);
    EXPECT_TRUE(result.ok) << c.n << " ranks, CUDA_DEVICE_MAX_CONNECTIONS=" << c.queues << ":\n" << result.report;
  }
}

TEST(GpuIpc, ByDefaultRanksInSeparateProcessesDoNotUseIt) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    unsetenv("MIXCCL_GPU_IPC");
    RankGpu g;
    testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
    g.open(rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    int failures = testing::runDeviceCollective(g, comm, 0, 70001, mixcclFloat32, mixcclSum, false, rank, n);
    failures += !rankCheck(emu.reduceNCalls() == 0 && emu.reduceToAllCalls() == 0, rank,
                           "gpu_ipc's kernels ran (%zu reduce-n, %zu reduce-to-all): want gpu_ipc unused",
                           emu.reduceNCalls(), emu.reduceToAllCalls());
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, ByDefaultProcessesWithEqualPidsInSeparatePidNamespacesDoNotUseIt) {
  // Containers of one pod share their network and IPC namespaces (one host to mixccl) but not their pid namespaces:
  // two single-process containers both run as pid 1. Each rank here runs as pid 1 of a namespace of its own; they
  // are separate processes all the same, so `auto` must not treat them as one (whose ranks use each other's
  // addresses as their own).
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a pid namespace (unshare CLONE_NEWPID)";
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    if (unshare(CLONE_NEWPID) != 0) {
      std::fprintf(stderr, "rank %d: unshare(CLONE_NEWPID): %s\n", rank, std::strerror(errno));
      return 1;
    }
    const pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      if (getpid() != 1) _exit(rankCheck(false, rank, "pid %d in the new namespace, want 1", int(getpid())));
      unsetenv("MIXCCL_GPU_IPC");
      RankGpu g;
      testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
      g.open(rank);
      mixcclComm_t comm = initRankComm(rank, n, id);
      if (comm == nullptr) _exit(1);
      int failures = testing::runDeviceCollective(g, comm, 0, 70001, mixcclFloat32, mixcclSum, false, rank, n);
      failures += !rankCheck(emu.reduceNCalls() == 0 && emu.reduceToAllCalls() == 0, rank,
                             "gpu_ipc's kernels ran (%zu reduce-n, %zu reduce-to-all): want gpu_ipc unused",
                             emu.reduceNCalls(), emu.reduceToAllCalls());
      mixcclCommDestroy(comm);
      _exit(failures == 0 ? 0 : 1);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  };
  auto result = runRanks(2, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, AnUnknownSettingIsAnErrorThatNamesIt) {
  for (const char* var : {"MIXCCL_GPU_IPC", "MIXCCL_GPU_IPC_FUSED"}) {
    auto body = [var](int rank, int n, const mixcclUniqueId& id) -> int {
      testing::installEmulatedGpu(20);
      setenv(var, "yes", 1);
      mixcclComm_t comm = nullptr;
      const mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
      const std::string msg = mixcclGetLastError(nullptr);
      bool ok = rankCheck(res == mixcclInvalidArgument, rank, "init gave %d", res);
      ok &= rankCheck(msg.find(std::string(var) + "=yes: must be auto, 1 or 0") != std::string::npos, rank,
                      "message: %s", msg.c_str());
      return ok ? 0 : 1;
    };
    auto result = runRanks(2, body);
    EXPECT_TRUE(result.ok) << var << ":\n" << result.report;
  }
}

// Five ranks of one process (ten waiting streams) made with mixcclCommInitAll and destroyed again, with `queues`
// hardware queues (CUDA_DEVICE_MAX_CONNECTIONS; "": CUDA's default, whatever the shell exports). Returns what init
// wrote to stderr; *ok false (printed) if it failed.
std::string initFiveRanksOfOneProcess(const char* queues, bool* ok) {
  const int n = 5;
  if (queues[0] != '\0') {
    setenv("CUDA_DEVICE_MAX_CONNECTIONS", queues, 1);
  } else {
    unsetenv("CUDA_DEVICE_MAX_CONNECTIONS");
  }
  RankGpu g[n];
  ipcRank(&g[0], 0);
  for (int r = 1; r < n; ++r) g[r].open(r);
  mixcclComm_t comms[n];
  mixcclResult_t res = mixcclSuccess;
  const std::string err = testing::captureStderr([&] { res = mixcclCommInitAll(comms, n, nullptr); });
  *ok = rankCheck(res == mixcclSuccess, 0, "init-all failed: %s", mixcclGetLastError(nullptr));
  if (*ok) {
    for (int r = 0; r < n; ++r) mixcclCommDestroy(comms[r]);
  }
  return err;
}

size_t occurrences(const std::string& text, const char* what) {
  size_t found = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++found;
  return found;
}

TEST(GpuIpc, MoreWaitingStreamsThanHardwareQueuesAreWarnedAboutOnce) {
  // Ten waiting streams: more than the 8 hardware queues a CUDA context has by default, not more than 32.
  for (const char* queues : {"", "32"}) {
    auto body = [queues](int, int, const mixcclUniqueId&) -> int {
      bool ok = false;
      const std::string err = initFiveRanksOfOneProcess(queues, &ok);
      const size_t warnings = occurrences(err, "CUDA_DEVICE_MAX_CONNECTIONS=32"), want = queues[0] == '\0' ? 1 : 0;
      ok = ok && rankCheck(warnings == want, 0, "%zu warnings, want %zu; stderr was: %s", warnings, want, err.c_str());
      return ok ? 0 : 1;
    };
    auto result = runRanks(1, body);
    EXPECT_TRUE(result.ok) << "CUDA_DEVICE_MAX_CONNECTIONS=" << queues << ":\n" << result.report;
  }
}

TEST(GpuIpc, FusedAutoWhereTheStreamsFitTheQueuesAndWithoutAWarningWhereNot) {
  // Ten waiting streams: with 32 hardware queues every rank runs the fused kernels; with CUDA's default 8 none does,
  // and only MIXCCL_GPU_IPC_FUSED=1 warns about it, auto does not.
  struct Case {
    const char* fused;
    const char* queues;
    size_t fusedRanks, warnings;
  };
  for (const Case& c : {Case{"auto", "32", 5, 0}, Case{"auto", "", 0, 0}, Case{"1", "", 0, 1}}) {
    auto body = [c](int, int, const mixcclUniqueId&) -> int {
      setenv("MIXCCL_GPU_IPC", "1", 1);
      setenv("MIXCCL_GPU_IPC_FUSED", c.fused, 1);
      setenv("MIXCCL_DEBUG", "INFO", 1);
      bool ok = false;
      const std::string err = initFiveRanksOfOneProcess(c.queues, &ok);
      const size_t fusedRanks = occurrences(err, ", fused kernels)");
      const size_t warnings = occurrences(err, "MIXCCL_GPU_IPC_FUSED=1 not used");
      ok = ok && rankCheck(fusedRanks == c.fusedRanks && warnings == c.warnings, 0, "%zu ranks fused (want %zu), %zu "
                           "warnings (want %zu); stderr was: %s", fusedRanks, c.fusedRanks, warnings, c.warnings,
                           err.c_str());
      return ok ? 0 : 1;
    };
    auto result = runRanks(1, body);
    EXPECT_TRUE(result.ok) << "MIXCCL_GPU_IPC_FUSED=" << c.fused << ", CUDA_DEVICE_MAX_CONNECTIONS=" << c.queues
                           << ":\n" << result.report;
  }
}

TEST(GpuIpc, RanksAsThreadsOfOneProcessReduceDirectlyIntoEveryOutput) {
  // Three ranks as threads of one process, each with its own stream and communicator: all-reduces above the
  // one-shot size take the direct rounds (no copy through slots), for several types and ops, in and out of place,
  // each call ONE round although it is larger than the 1 MiB slots; rank 2 uses host buffers in the last passes
  // (its data goes through a stage of device memory, grown from the first to the second). The test's
  // copies go through pinned memory: a thread blocked in a copy into pageable memory would hold up the others'
  // launches, which its stream waits for (gpu_ipc.h; the emulation holds its runtime lock as a device does).
  auto body = [](int, int, const mixcclUniqueId& id) -> int {
    const int n = 3;
    setenv("MIXCCL_GPU_IPC", "1", 1);
    setenv("MIXCCL_GPU_IPC_CHUNK_BYTES", "1M", 1);
    testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
    std::vector<int> failures(n, 0);
    std::atomic<size_t> directCalls{0};  // calls above the one-shot size, summed over the ranks
    auto counted = [&](uint64_t count, mixcclDataType_t dt) {
      if (count * dataTypeSize(dt) > GpuIpc::kOneShotBytes) ++directCalls;
    };
    std::vector<std::thread> threads;
    for (int rank = 0; rank < n; ++rank) {
      threads.emplace_back([&, rank] {
        RankGpu g;
        if (!g.open(rank, size_t(1) << 20)) {
          failures[size_t(rank)] = 1;
          return;
        }
        mixcclComm_t comm = initRankComm(rank, n, id);
        if (comm == nullptr) {
          failures[size_t(rank)] = 1;
          return;
        }
        int& f = failures[size_t(rank)];
        for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32}) {
          const uint64_t big = (1u << 20) / dataTypeSize(dt) * 2 + 777;  // three slots' worth
          for (mixcclRedOp_t op : {mixcclSum, mixcclMax, mixcclAvg}) {
            for (uint64_t count : {uint64_t(70001), big}) {
              if (count == big && op != mixcclSum) continue;
              for (bool inPlace : {false, true}) {
                f += testing::runDeviceCollective(g, comm, 0, count, dt, op, inPlace, rank, n);
                counted(count, dt);
              }
            }
          }
        }
        // Host buffers on rank 2, device buffers elsewhere: 1.2 MB, then 10 MB (a larger stage).
        for (uint64_t count : {uint64_t(300001), uint64_t(2500001)}) {
          f += allReduceWithOneRankOnHostBuffers(g, comm, count, 2, rank, n);
          counted(count, mixcclFloat32);
        }
        mixcclCommDestroy(comm);
      });
    }
    for (std::thread& t : threads) t.join();
    int total = 0;
    for (int f : failures) total += f;
    // Every rank's shard is non-empty: one reduce-to-all per rank and call means one round per call.
    total += !rankCheck(emu.reduceToAllCalls() == directCalls.load(), 0,
                        "%zu direct rounds for %zu rank calls above the one-shot size, want one round each",
                        emu.reduceToAllCalls(), directCalls.load());
    return total == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 300);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, FusedRoundsOfRanksAsThreadsAreExact) {
  // MIXCCL_GPU_IPC_FUSED=1, three ranks as threads: every all-reduce is one kernel per rank and round that waits for
  // the others inside it (the emulation runs each stream on its own thread, so they do meet): the one-shot kernel up
  // to 16 KiB, the direct kernel above. Several types and ops, in and out of place, on both sides of the limit;
  // back-to-back calls without a sync (the slots' and address words' reuse across parities); rank 2 on host buffers,
  // in its slots and in a stage larger than them.
  auto body = [](int, int, const mixcclUniqueId& id) -> int {
    const int n = 3;
    const testing::ScopedEnv env({{"MIXCCL_GPU_IPC", "1"}, {"MIXCCL_GPU_IPC_FUSED", "1"}});
    testing::EmulatedGpu& emu = testing::installEmulatedGpu(20);
    std::vector<int> failures(n, 0);
    std::atomic<size_t> oneShotCalls{0}, directCalls{0};  // summed over the ranks
    auto counted = [&](uint64_t count, mixcclDataType_t dt) {
      ++(count * dataTypeSize(dt) <= GpuIpc::kFusedOneShotBytes ? oneShotCalls : directCalls);
    };
    std::vector<std::thread> threads;
    for (int rank = 0; rank < n; ++rank) {
      threads.emplace_back([&, rank] {
        RankGpu g;
        mixcclComm_t comm = g.open(rank, size_t(1) << 20) ? initRankComm(rank, n, id) : nullptr;
        if (comm == nullptr) {
          failures[size_t(rank)] = 1;
          return;
        }
        int& f = failures[size_t(rank)];
        for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt8, mixcclFloat64}) {
          const uint64_t limit = GpuIpc::kFusedOneShotBytes / dataTypeSize(dt);
          for (mixcclRedOp_t op : {mixcclSum, mixcclMax, mixcclAvg}) {
            for (uint64_t count : {uint64_t(1), uint64_t(1001), limit, limit + 1, uint64_t(70001)}) {
              for (bool inPlace : {false, true}) {
                f += testing::runDeviceCollective(g, comm, 0, count, dt, op, inPlace, rank, n);
                counted(count, dt);
              }
            }
          }
        }
        for (uint64_t count : {uint64_t(1000), uint64_t(30000)}) {
          f += !testing::backToBackAllReduces(g, comm, 6, count, rank, n);
          for (int k = 0; k < 6; ++k) counted(count, mixcclInt32);
        }
        // 12 KB (one-shot), 1.2 MB (the slots), 10 MB (a stage).
        for (uint64_t count : {uint64_t(3000), uint64_t(300001), uint64_t(2500001)}) {
          f += allReduceWithOneRankOnHostBuffers(g, comm, count, 2, rank, n);
          counted(count, mixcclFloat32);
        }
        mixcclCommDestroy(comm);
      });
    }
    for (std::thread& t : threads) t.join();
    int total = 0;
    for (int f : failures) total += f;
    total += !rankCheck(emu.oneShotCalls() == oneShotCalls.load(), 0, "%zu fused one-shot kernels for %zu rank calls "
                        "of at most 16 KiB, want one each", emu.oneShotCalls(), oneShotCalls.load());
    total += !rankCheck(emu.fusedDirectCalls() == directCalls.load() && emu.reduceToAllCalls() == 0, 0,
                        "%zu fused direct kernels (and %zu unfused reduce-to-all kernels) for %zu rank calls above "
                        "16 KiB, want one fused kernel each", emu.fusedDirectCalls(), emu.reduceToAllCalls(),
                        directCalls.load());
    return total == 0 ? 0 : 1;
  };
  auto result = runRanks(1, body, 300);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, RanksMustAgreeOnTheSetting) {
  for (const char* var : {"MIXCCL_GPU_IPC", "MIXCCL_GPU_IPC_FUSED"}) {
    auto body = [var](int rank, int n, const mixcclUniqueId& id) -> int {
      testing::installEmulatedGpu(20);
      setenv("MIXCCL_GPU_IPC", "1", 1);
      setenv(var, rank == 1 ? "0" : "1", 1);
      mixcclComm_t comm = nullptr;
      mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
      const std::string msg = mixcclGetLastError(nullptr);
      bool ok = rankCheck(res == mixcclInvalidUsage, rank, "init gave %d", res);
      ok &= rankCheck(msg.find(std::string(var) + " differs") != std::string::npos, rank, "message: %s", msg.c_str());
      return ok ? 0 : 1;
    };
    auto result = runRanks(3, body);
    EXPECT_TRUE(result.ok) << var << ":\n" << result.report;
  }
}

TEST(GpuIpc, RanksMustAgreeOnTheRoundSizeAndItMustBeInRange) {
  for (const char* other : {"2M", "512K"}) {
    auto body = [other](int rank, int n, const mixcclUniqueId& id) -> int {
      testing::installEmulatedGpu(20);
      setenv("MIXCCL_GPU_IPC", "1", 1);
      const bool outOfRange = std::string(other) == "512K";
      setenv("MIXCCL_GPU_IPC_CHUNK_BYTES", (rank == 1 || outOfRange) ? other : "1M", 1);
      mixcclComm_t comm = nullptr;
      mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
      const std::string msg = mixcclGetLastError(nullptr);
      const std::string want = outOfRange ? "must be a multiple of 4096 from 1M to 1G" : "CHUNK_BYTES differs";
      bool ok = rankCheck(res == (outOfRange ? mixcclInvalidArgument : mixcclInvalidUsage), rank, "init gave %d", res);
      ok &= rankCheck(msg.find(want) != std::string::npos, rank, "message: %s", msg.c_str());
      return ok ? 0 : 1;
    };
    auto result = runRanks(3, body);
    EXPECT_TRUE(result.ok) << other << ":\n" << result.report;
  }
}

TEST(GpuIpc, CallsOnAnotherStreamWaitForTheRanksEarlierOnes) {
  // Rank 0 issues two all-reduces on a stream held shut by a gate, then one on host buffers, which runs on gpu_ipc's
  // own stream and returns when done; the gate opens 100 ms later, from another thread. The third call reuses the
  // first's slot and flags (same parity), so it must not run before the first: had it, the peers' first round
  // would read its data, and its own would be overwritten. The other ranks use device buffers on one stream.
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    RankGpu g;
    ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const testing::Int32AllReduces calls = testing::prepareInt32AllReduces(g, 2, 1000, rank, n);
    if (rank == 0) g.closeGate();
    bool ok = true;
    for (int c = 0; c < 2; ++c) ok &= testing::enqueueInt32AllReduce(calls, c, comm, g.stream(), rank);
    std::thread opener;
    if (rank == 0) {
      opener = std::thread([&g] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        g.openGate();
      });
    }
    int failures = allReduceWithOneRankOnHostBuffers(g, comm, 1000, 0, rank, n);
    if (opener.joinable()) opener.join();
    ok &= testing::checkInt32AllReduces(g, calls, rank);
    mixcclCommDestroy(comm);
    return ok && failures == 0 ? 0 : 1;
  };
  auto result = runRanks(3, body, 30);  // out of order, the ranks deadlock or go wrong
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, RoundsOfAnotherSizeAreExact) {
  // 1 MiB rounds: an all-reduce of 3.5 rounds of both parities, then a one-shot one, on 3 ranks.
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_GPU_IPC_CHUNK_BYTES", "1M", 1);
    RankGpu g;
    ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = true;
    for (uint64_t count : {uint64_t(7) << 17, uint64_t(1000)}) {  // 3.5 MiB and 4000 B of int32
      ok &= testing::backToBackAllReduces(g, comm, 2, count, rank, n);
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, EveryOtherCollectiveIsExactAcrossRoundsAndNeverStaged) {
  // All-gather, reduce-scatter, broadcast and reduce in 1 MiB rounds: one element, a few, and more than two rounds
  // (both parities; reduce-scatter's rounds hold 1/n of a slot per rank). No call may touch host staging.
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_GPU_IPC_CHUNK_BYTES", "1M", 1);
    RankGpu g;
    testing::EmulatedGpu& emu = ipcRank(&g, rank);
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const size_t pinnedAtInit = emu.peakPinnedBytes();  // gpu_ipc's bounce buffer for host-only calls
    int failures = 0;
    for (int coll = 1; coll <= 4; ++coll) {
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt32, mixcclFloat8e4m3}) {
        const size_t esz = dataTypeSize(dt);
        const uint64_t perRound = (1u << 20) / esz / (coll == 2 ? uint64_t(n) : 1);
        for (mixcclRedOp_t op : {mixcclSum, mixcclMax, mixcclAvg}) {
          if ((coll == 1 || coll == 3) && op != mixcclSum) continue;  // no reduction: one op is enough
          for (uint64_t count : {uint64_t(1), uint64_t(1001), perRound * 2 + 12345}) {
            if (count > 1001 && op != mixcclSum) continue;
            for (bool inPlace : {false, true}) {
              failures += testing::runDeviceCollective(g, comm, coll, count, dt, op, inPlace, rank, n);
            }
          }
        }
      }
    }
    failures += !rankCheck(emu.peakPinnedBytes() == pinnedAtInit, rank, "%zu bytes went through host staging",
                           emu.peakPinnedBytes() - pinnedAtInit);
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  for (int n : {2, 3, 5}) {
    auto result = runRanks(n, body, 90);  // under ctest's limit, so that a hang is reported with its stacks
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

// With MIXCCL_GPU_IPC=1, rank r's buffers on an emulated GPU of vendors[r % vendors.size()] (kHost: host memory, no
// GPU): gpu_ipc must not be used by any rank (it needs a GPU of one vendor on every rank), and the all-reduce must
// still be exact. Returns the runRanks result of n ranks.
testing::RankRunResult ipcDeclined(int n, std::vector<MemoryType> vendors) {
  auto body = [vendors](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_GPU_IPC", "1", 1);
    const MemoryType vendor = vendors[size_t(rank) % vendors.size()];
    RankGpu g;
    testing::EmulatedGpu* emu = vendor == MemoryType::kHost ? nullptr : &testing::installEmulatedGpu(20, vendor);
    if (emu != nullptr && !g.open(rank, 0, vendor)) return 1;
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 5000;
    std::vector<char> in(count * 4), want(count * 4), got;
    testdata::fillSend(0, in.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, want.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    bool ok = true;
    if (emu == nullptr) {
      got.resize(in.size());
      ok = mixcclAllReduce(in.data(), got.data(), count, mixcclFloat32, mixcclSum, comm, nullptr) == mixcclSuccess;
    } else {
      void* buf = g.upload(in);
      ok = mixcclAllReduce(buf, buf, count, mixcclFloat32, mixcclSum, comm, g.stream()) == mixcclSuccess;
      got = g.download(buf, in.size());
      ok &= rankCheck(emu->reduceNCalls() == 0, rank, "gpu_ipc was used");
    }
    ok = rankCheck(ok, rank, "all-reduce failed: %s", mixcclGetLastError(comm));
    ok &= rankCheck(testdata::countWrong(got.data(), want.data(), mixcclFloat32, count) == 0, rank, "wrong result");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  return runRanks(n, body);
}

TEST(GpuIpc, NotUsedByAnyRankWhenOneHasNoGpu) {
  auto result = ipcDeclined(3, {MemoryType::kHost, MemoryType::kCuda, MemoryType::kCuda});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(GpuIpc, NotUsedBetweenGpusOfTwoVendors) {
  auto result = ipcDeclined(4, {MemoryType::kCuda, MemoryType::kHip});
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

// A rank that dies or aborts mid-collective: every other rank fails with an error naming it, within the
// timeout, and nothing is left in /dev/shm.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "support/rank_runner.h"

namespace mixccl {
namespace {

using testing::rankCheck;
using testing::runRanks;

// Shared-memory segments in /dev/shm created by any of `pids` (segment names are "mixccl-<pid>-..."; other
// tests running at the same time have segments of their own for a moment during their init).
int countShmSegments(const std::vector<int>& pids) {
  int count = 0;
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return 0;
  while (dirent* e = readdir(dir)) {
    for (int pid : pids) {
      std::string prefix = "mixccl-" + std::to_string(pid) + "-";
      count += strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0;
    }
  }
  closedir(dir);
  return count;
}

// Ranks loop over large all-reduces; `victim` leaves after a few iterations (killed, or by aborting).
int survivorBody(int rank, int n, const mixcclUniqueId& id, int victim, bool abortInstead, double timeoutSec) {
  mixcclConfig_t config = MIXCCL_CONFIG_INITIALIZER;
  config.timeoutMs = static_cast<int>(timeoutSec * 1000);
  mixcclComm_t comm = nullptr;
  if (!rankCheck(mixcclCommInitRankConfig(&comm, n, id, rank, &config) == mixcclSuccess, rank, "init: %s",
                 mixcclGetLastError(nullptr)))
    return 1;
  const size_t count = 1 << 20;
  std::vector<float> buf(count, 1.0f);
  auto start = std::chrono::steady_clock::now();
  for (int iter = 0; iter < 100000; ++iter) {
    if (rank == victim && iter == 3) {
      if (abortInstead) {
        mixcclCommAbort(comm);
        _exit(0);
      }
      raise(SIGKILL);
    }
    mixcclResult_t res = mixcclAllReduce(buf.data(), buf.data(), count, mixcclFloat32, mixcclMax, comm, nullptr);
    if (res == mixcclSuccess) continue;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string msg = mixcclGetLastError(comm);
    bool ok = rankCheck(res == mixcclRemoteError, rank, "expected mixcclRemoteError, got %d: %s", res, msg.c_str());
    std::string victimName = "rank " + std::to_string(victim);
    ok &= rankCheck(msg.find(victimName) != std::string::npos, rank, "error does not name %s: %s",
                    victimName.c_str(), msg.c_str());
    ok &= rankCheck(elapsed < timeoutSec, rank, "failure took %.1f s (timeout %.1f s)", elapsed, timeoutSec);
    mixcclResult_t async = mixcclSuccess;
    mixcclCommGetAsyncError(comm, &async);
    ok &= rankCheck(async == mixcclRemoteError, rank, "async error is %d", async);
    ok &= rankCheck(mixcclAllReduce(buf.data(), buf.data(), count, mixcclFloat32, mixcclMax, comm, nullptr) ==
                        mixcclRemoteError,
                    rank, "a failed communicator accepted another collective");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  }
  return rankCheck(false, rank, "the collectives kept succeeding after rank %d left", victim) ? 0 : 1;
}

TEST(PeerFailure, KilledRankIsNamedByEveryOtherRankBeforeTheTimeout) {
  for (int victim : {0, 2}) {
    auto result = runRanks(4, [victim](int rank, int n, const mixcclUniqueId& id) {
      return survivorBody(rank, n, id, victim, false, 20.0);
    });
    // The victim itself "fails" (SIGKILL); every other rank must have passed its checks.
    EXPECT_NE(result.report.find("rank " + std::to_string(victim) + " killed by signal 9"), std::string::npos)
        << result.report;
    for (int r = 0; r < 4; ++r) {
      if (r == victim) continue;
      EXPECT_EQ(result.report.find("rank " + std::to_string(r) + " exited"), std::string::npos)
          << "victim " << victim << ":\n" << result.report;
    }
    EXPECT_EQ(countShmSegments(result.pids), 0) << "a shared-memory segment was left in /dev/shm";
  }
}

TEST(PeerFailure, AbortingRankIsNamedByTheOthers) {
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) {
    return survivorBody(rank, n, id, 1, true, 20.0);
  });
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_EQ(countShmSegments(result.pids), 0);
}

}  // namespace
}  // namespace mixccl

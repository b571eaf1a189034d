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
#include <thread>
#include <vector>

#include "support/collective_check.h"
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

TEST(PeerFailure, KilledRankIsNamedByEveryOtherRankBeforeTheTimeout) {
  for (int victim : {0, 2}) {
    auto result = runRanks(4, [victim](int rank, int n, const mixcclUniqueId& id) {
      return testing::runUntilVictimLeaves(rank, n, id, testing::VictimTest{victim, false, 20.0, 20.0, false});
    });
    // The victim itself "fails" (SIGKILL); every other rank must have passed its checks.
    EXPECT_EQ(testing::onlyVictimFailed(result.report, victim, 4), "") << "victim " << victim;
    EXPECT_EQ(countShmSegments(result.pids), 0) << "a shared-memory segment was left in /dev/shm";
  }
}

TEST(PeerFailure, AbortingRankIsNamedByTheOthers) {
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) {
    return testing::runUntilVictimLeaves(rank, n, id, testing::VictimTest{1, true, 20.0, 20.0, false});
  });
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_EQ(countShmSegments(result.pids), 0);
}

TEST(PeerFailure, RankThatFinishedItsPartMayLeaveWhileOthersStillRead) {
  // A reduce's non-root ranks are done once their data is posted; they leave at once (no destroy). The ranks
  // still working hold those messages already and must not count the leavers as lost.
  auto result = runRanks(4, [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_ALGO", "reduce=ring", 1);  // a chain: each rank forwards what the one before it sent
    mixcclComm_t comm = testing::initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    // Small reduces, and a root that is slow to take them: the ranks before it in the chain back up, and the
    // first ones finish long before the root.
    const int root = 1;
    const size_t count = 1024;
    std::vector<int32_t> in(count, rank + 1), out(count, 0);
    for (int i = 0; i < 60; ++i) {
      if (rank == root) std::this_thread::sleep_for(std::chrono::milliseconds(3));
      if (mixcclReduce(in.data(), out.data(), count, mixcclInt32, mixcclSum, root, comm, nullptr) != mixcclSuccess) {
        return rankCheck(false, rank, "reduce %d failed: %s", i, mixcclGetLastError(comm)) ? 0 : 1;
      }
    }
    if (rank != root) _exit(0);
    bool ok = true;
    for (size_t i = 0; i < count && ok; ++i) ok = rankCheck(out[i] == n * (n + 1) / 2, rank, "element %zu: %d", i, out[i]);
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  });
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

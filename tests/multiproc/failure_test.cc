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

}  // namespace
}  // namespace mixccl

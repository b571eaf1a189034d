#pragma once
// Test support for ranks that are FORKED processes of one test on one machine: a fake Bootstrap built on an
// anonymous MAP_SHARED mapping created before fork() (so every child inherits it), and a runner that forks the
// ranks, captures their output and turns any child's failure into a test failure with that child's message.
//
// The fake implements allGather and barrier only (atomics + a generation counter, spin then sched_yield, with a
// timeout); send/recv fail with mixcclInternalError ("not supported by the fake"). Not for threads of one
// process (use one arena per group of forked processes). Every wait gives up after the arena's timeout.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"

namespace mixccl::test {

struct FakeArenaState;  // lives in the shared mapping

// Owns the shared mapping. Create it in the parent, before fork(); call join() in each child.
class FakeBootstrapArena {
 public:
  // `maxBytesPerRank`: largest allGather contribution. `timeoutSec`: how long a collective waits for the others.
  FakeBootstrapArena(int nranks, size_t maxBytesPerRank = 4096, double timeoutSec = 10);
  FakeBootstrapArena(const FakeBootstrapArena&) = delete;
  FakeBootstrapArena& operator=(const FakeBootstrapArena&) = delete;
  ~FakeBootstrapArena();

  int nranks() const { return nranks_; }
  // The Bootstrap of `rank` (one per rank, in the child that plays it).
  std::unique_ptr<Bootstrap> join(int rank);

 private:
  int nranks_;
  size_t maxBytes_;
  double timeoutSec_;
  size_t mapBytes_;
  FakeArenaState* state_;
};

// What became of one forked rank.
struct ChildOutcome {
  int rank = 0;
  int exitCode = -1;      // when it exited normally
  int signal = 0;         // when a signal ended it (SIGKILL also for stragglers killed at the timeout)
  bool timedOut = false;  // still running at the deadline, killed by the runner
  std::string output;     // everything it wrote to stdout/stderr
};

// The body of one rank: returns "" on success, else the failure message (the runner prints it to the child's
// stderr and exits 1). Exceptions count as failures.
using RankBody = std::function<std::string(Bootstrap& boot)>;

// Forks `nranks` children sharing a fresh FakeBootstrapArena (`bootTimeoutSec` per collective); child r runs
// body(its bootstrap) and _exit()s. Waits up to `timeoutSec` for all of them, then SIGKILLs the stragglers.
std::vector<ChildOutcome> runForkedRanks(int nranks, double timeoutSec, const RankBody& body,
                                         double bootTimeoutSec = 5);

// "" if every child exited with status 0 (ranks listed in `mayBeKilled` may instead end by SIGKILL), else one
// paragraph per failing rank with its exit status and output.
std::string describeFailures(const std::vector<ChildOutcome>& outcomes, const std::vector<int>& mayBeKilled = {});

// printf into a std::string (for failure messages of rank bodies).
std::string strPrintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace mixccl::test

// Inside a RankBody: returns a failure message naming the file, line and condition unless `cond` holds.
#define RANK_REQUIRE(cond, ...)                                                             \
  do {                                                                                      \
    if (!(cond))                                                                            \
      return ::mixccl::test::strPrintf("%s:%d: (%s) failed: ", __FILE__, __LINE__, #cond) + \
             ::mixccl::test::strPrintf(__VA_ARGS__);                                        \
  } while (0)

// Inside a RankBody: returns a failure message if a mixccl call does not succeed.
#define RANK_REQUIRE_OK(expr)                                                                                  \
  do {                                                                                                         \
    ::mixccl::Result rank_res_ = (expr);                                                                       \
    if (rank_res_ != mixcclSuccess)                                                                            \
      return ::mixccl::test::strPrintf("%s:%d: %s returned %d: %s", __FILE__, __LINE__, #expr, int(rank_res_), \
                                       ::mixccl::lastErrorMessage());                                          \
  } while (0)

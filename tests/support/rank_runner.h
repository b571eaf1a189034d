#pragma once
// Runs the ranks of a test as forked processes and reports each failing rank with its own output.
//
// The parent creates a unique id, forks `nranks` children and waits (with a deadline) for all of them; each child
// runs body(rank, nranks, id) with its stderr captured, and exits with the body's return value. A rank that
// returns non-zero, crashes or passes the deadline fails the run; the result names it and quotes its output.
#include <functional>
#include <string>
#include <vector>

#include "mixccl.h"

namespace mixccl::testing {

struct RankRunResult {
  bool ok = false;
  std::string report;  // per failing rank: how it ended and what it printed
  std::string output;  // everything the ranks printed, rank by rank
  std::vector<int> pids;  // the ranks' process ids, by rank
};

using RankBody = std::function<int(int rank, int nranks, const mixcclUniqueId& id)>;

RankRunResult runRanks(int nranks, const RankBody& body, double timeoutSec = 120);

// For rank bodies: inits a communicator as `rank` of `nranks`; on failure prints "rank R: init: <last error>" and
// returns nullptr.
mixcclComm_t initRankComm(int rank, int nranks, const mixcclUniqueId& id);

// For rank bodies: polls `comm`'s asynchronous error every 50 ms until it is set or `seconds` passed; returns it
// (mixcclSuccess when none came).
mixcclResult_t awaitAsyncError(mixcclComm_t comm, double seconds);

// For rank bodies: prints "rank R: message" to stderr when `ok` is false; returns ok.
bool rankCheck(bool ok, int rank, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace mixccl::testing

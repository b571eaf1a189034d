#pragma once
// Multi-process test helpers shared by the transport tests: one collective call checked exactly, and the body of
// a rank that keeps running collectives until a victim rank leaves.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/coll_args.h"
#include "mixccl.h"

namespace mixccl::testing {

// Calls the public API function of `coll`.
mixcclResult_t callCollective(CollType coll, const void* send, void* recv, size_t count, mixcclDataType_t dt,
                              mixcclRedOp_t op, int root, mixcclComm_t comm);

// Runs one collective on this rank with exact inputs (in or out of place, the nccl-tests layouts) and returns the
// number of wrong elements of its receive buffer, or -1 if the call failed (message printed for the rank).
int64_t runCheckedCollective(mixcclComm_t comm, CollType coll, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op,
                             int root, bool inPlace, int rank, int nranks);

// The cartesian product a rank runs for one collective: every type x op (reductions only; others use sum) x count
// x {out of place, in place}. `slowCount` runs only with the first op. Rooted collectives use root count % n.
struct CollectiveMatrix {
  std::vector<mixcclDataType_t> types;
  std::vector<mixcclRedOp_t> ops;     // for the reductions
  std::vector<uint64_t> counts;
  uint64_t slowCount = 0;             // an extra, large count (0: none)
};

// Inits a communicator as `rank` of `nranks`, runs the matrix, destroys it. Returns 0 if every call was exact;
// prints each failure for the rank (at most 5, and stops at a failed call: the communicator is unusable then).
int runCollectiveMatrix(int rank, int nranks, const mixcclUniqueId& id, CollType coll, const CollectiveMatrix& m);

// Checks a failure run's report: the victim was killed by SIGKILL and no other rank failed. "" when so, else what
// went wrong.
std::string onlyVictimFailed(const std::string& report, int victim, int nranks);

struct VictimTest {
  int victim = 0;
  bool abortInstead = false;   // the victim calls mixcclCommAbort and exits instead of being SIGKILLed
  double timeoutSec = 20;      // mixcclConfig_t.timeoutMs of the communicator
  double allowanceSec = 20;    // the survivors must fail within this
  // Transports that cannot see a dead peer (tcp without liveness) fail by the timeout: accept a timeout message
  // that names the rank the step waits for instead of the victim.
  bool acceptTimeoutNamingAwaitedRank = false;
};

// A rank body for failure tests: init, then loop over large all-reduces; the victim leaves after a few
// iterations. Every other rank must then fail with mixcclRemoteError naming "rank <victim>" (see VictimTest)
// within the allowance, see the failure as its async error, and have further collectives refused. Prints
// "rank R: named the victim" when it did. Returns 0 when all of that holds.
int runUntilVictimLeaves(int rank, int nranks, const mixcclUniqueId& id, const VictimTest& test);

}  // namespace mixccl::testing

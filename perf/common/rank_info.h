#pragma once
// Who each rank is (for the "#  Rank  0 Group  0 Pid ... on host" header lines), gathered from every rank.
#include <string>
#include <vector>

#include "mixccl.h"

namespace mixccl::perf {

struct RankInfo {
  int rank = 0;
  int pid = 0;
  std::string host;
};

// Collective: every rank calls it; every rank gets all ranks' info, indexed by rank. Throws PerfError.
std::vector<RankInfo> gatherRankInfo(mixcclComm_t comm, int rank, int nranks);

}  // namespace mixccl::perf

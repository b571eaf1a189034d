#pragma once
// Who each rank is (for the "#  Rank  0 Group  0 Pid ... on host" header lines), gathered from every rank.
#include <string>
#include <vector>

#include "common/rank_context.h"

namespace mixccl::perf {

struct RankInfo {
  int rank = 0;
  int pid = 0;
  std::string host;
  int device = -1;              // the GPU the rank's buffers are on; -1: host memory
  std::string memory = "host";  // memoryTypeName of the buffers: host, cuda, hip
  std::string gpuName;          // the GPU backend's name; empty for host memory
};

// Collective: every rank calls it; every rank gets all ranks' info, indexed by rank. Throws PerfError.
std::vector<RankInfo> gatherRankInfo(const RankContext& ctx);

// The memory of the run for the header and JSON: "host", "cuda", "hip", or "mixed" when ranks differ.
std::string runMemory(const std::vector<RankInfo>& ranks);

}  // namespace mixccl::perf

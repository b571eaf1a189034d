#pragma once
// mixccl-info --simulate: runs the plans the selector chooses for a described cluster in the plan simulator
// (every rank in this one process), checks the results exactly and prints what it saw with the modelled time.
#include <cstdint>
#include <cstdio>

#include "topology/cluster_view.h"
#include "tuning/selector.h"

namespace mixccl {

// For every collective and a few sizes (capped so the whole simulation stays within ~256 MiB of buffers),
// simulates the chosen algorithm on `view` and prints one line each to `out`. Returns the number of failures
// (a simulation error or any wrong element); 0 when everything was exact.
int simulateCluster(const ClusterView& view, const Selector& selector, uint64_t chunkBytes, FILE* out);

}  // namespace mixccl

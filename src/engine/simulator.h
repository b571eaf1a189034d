#pragma once
// The plan simulator: runs the plans of every rank of a collective in ONE process and thread, with an in-memory
// exchange in place of transports, and the real executor and CPU backend. Used to test algorithms at scale
// (correctness against exact references, deadlock freedom, no message left behind) and, later, to cost them.
#include <cstdint>
#include <vector>

#include "algorithms/algorithm.h"
#include "core/status.h"

namespace mixccl {

struct SimOptions {
  uint64_t chunkBytes = 128 << 10;  // given to the algorithm as PlanContext::chunkBytes (and the slot size)
  int slotsPerChannel = 2;          // FIFO depth between two ranks (>= 2): small depths find ordering bugs
  const ClusterView* cluster = nullptr;  // given to the algorithm (null: all ranks on one host)
};

struct SimRankBuffers {
  const void* send = nullptr;
  void* recv = nullptr;
};

struct SimStats {
  uint64_t steps = 0;         // steps executed, all ranks
  uint64_t messages = 0;      // messages sent, all ranks
  uint64_t bytesOnWire = 0;   // bytes sent, all ranks
  uint64_t rounds = 0;        // passes over all ranks until completion
};

// Plans `algo` for every rank, validates each plan, and runs them to completion over host buffers.
// Errors (mixcclInternalError, logged): a malformed plan, a deadlock (a full pass in which no rank progressed,
// naming what the first blocked ranks wait for), a size mismatch, or messages left unconsumed at the end.
Result simulate(const Algorithm& algo, const CollArgs& args, int nranks, const SimOptions& options,
                const std::vector<SimRankBuffers>& buffers, SimStats* stats);

}  // namespace mixccl

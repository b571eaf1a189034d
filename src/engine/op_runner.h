#pragma once
// One collective's progress on one rank, as a wait loop (engine/wait_loop.h) drives it: the Executor of a plan
// (engine/executor.h), or another way of running a collective that must progress beside the others of its group
// (core/shared_reduce.h's all-reduce through a shared segment).
//
// Contract: advance() never blocks: it does what can be done now and returns. Not thread-safe (one driving thread).
#include <string>
#include <vector>

#include "core/status.h"

namespace mixccl {

class OpRunner {
 public:
  virtual ~OpRunner() = default;
  // Does what can be done now; *progressed tells whether anything was. An error ends the op (already logged).
  virtual Result advance(bool* progressed) = 0;
  virtual bool done() const = 0;
  // Whether it waits for something that no transport event announces (GPU work, words in shared memory): the loop
  // then polls soon instead of sleeping on the transports.
  virtual bool deviceBusy() const = 0;
  // The peers it is blocked on (to check their liveness), and a sentence saying what it waits for.
  virtual void blockedPeers(std::vector<int>* peers) const = 0;
  virtual std::string waitingFor() const = 0;
};

}  // namespace mixccl

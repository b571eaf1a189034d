#pragma once
// Runs one rank's plan for one collective over transports and a device backend, without ever blocking.
//
// Contract: advance() executes every step that can run now (its input message has arrived, its output slot
// is free) and returns; the caller (wait_loop.h) decides when to spin, sleep or give up. Steps of one lane run
// in order; lanes are interleaved; a step that waits for another lane's step (Plan::waits) runs after it. The
// executor does not own the plan, buffers, transports or backend; they must outlive it. Not thread-safe (one
// driving thread).
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "device/device_backend.h"
#include "engine/coll_args.h"
#include "engine/plan.h"
#include "transports/transport.h"

namespace mixccl {

struct ExecBuffers {
  const void* send = nullptr;
  void* recv = nullptr;
  void* scratch = nullptr;
};

class Executor {
 public:
  // routes[peer] is the transport that reaches `peer` (nullptr for this rank / unreachable peers).
  Executor(const Plan& plan, const CollArgs& args, int rank, int nranks, ExecBuffers buffers,
           const std::vector<Transport*>& routes, DeviceBackend& backend);

  // Starts over with another plan and buffers (same rank, routes and backend); reuses the executor's memory.
  void reset(const Plan& plan, const CollArgs& args, ExecBuffers buffers);

  // Runs the steps that are ready. *progressed tells whether any step ran. Errors: a received message whose size
  // differs from the step's (mixcclInternalError: the ranks' plans disagree), or a step on a channel the transport
  // does not offer (mixcclInternalError).
  Result advance(bool* progressed);
  bool done() const { return lanesLeft_ == 0; }

  // The peers the unfinished lanes are blocked on (to check their liveness) and a sentence saying what the first
  // blocked lane waits for, e.g. "step 4 of 12 waits for data from rank 3".
  void blockedPeers(std::vector<int>* peers) const;
  std::string waitingFor() const;

 private:
  // Tries the current step of `lane`: true if it ran.
  Result tryStep(size_t lane, const Step& step, bool* ran);
  const char* slicePtr(const Slice& s) const;
  // Whether the next step of `lane` must still wait for a step of another lane (Plan::waits); waitsForLane also
  // moves past the waits that are met.
  bool waitsForLane(size_t lane);
  bool laneWaiting(size_t lane) const;
  // The error of a step whose channel the peer's transport does not offer (the plan needs more than caps().maxLanes).
  Result noChannel(size_t lane, int peer, int channel) const;

  const Plan* plan_ = nullptr;
  CollArgs args_;
  int rank_;
  int nranks_;
  size_t elemBytes_ = 0;
  ExecBuffers buffers_;
  const std::vector<Transport*>& routes_;
  DeviceBackend& backend_;
  std::vector<uint32_t> next_;    // per lane: index of the next step to run
  std::vector<size_t> waitNext_;  // per lane: the first of plan_->waits not known to be met (empty: no waits)
  size_t lanesLeft_;
};

}  // namespace mixccl

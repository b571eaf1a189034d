#pragma once
// Runs one rank's plan for one collective over transports and a device backend, without ever blocking.
//
// Contract: advance() executes every step that can run now (its input message has arrived, its output slot
// is free) and returns. With a StepDevice (engine/step_device.h), a step's arithmetic is enqueued there and the
// step ends (its input slot released, its output posted, its lane moved on) on a later advance(), once the device
// has done it; without one, the DeviceBackend does it at once; the caller (wait_loop.h) decides when to spin, sleep or give up. Steps of one lane run
// in order; lanes are interleaved; a step that waits for another lane's step (Plan::waits) runs after it. The
// executor does not own the plan, buffers, transports or backend; they must outlive it. Not thread-safe (one
// driving thread).
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "device/device_backend.h"
#include "engine/coll_args.h"
#include "engine/op_runner.h"
#include "engine/plan.h"
#include "engine/step_device.h"
#include "transports/transport.h"

namespace mixccl {

struct ExecBuffers {
  const void* send = nullptr;
  void* recv = nullptr;
  void* scratch = nullptr;
};

class Executor final : public OpRunner {
 public:
  // routes[peer] is the transport that reaches `peer` (nullptr for this rank / unreachable peers). `device`, when
  // given, does the arithmetic instead of `backend` (and must outlive the executor).
  Executor(const Plan& plan, const CollArgs& args, int rank, int nranks, ExecBuffers buffers,
           const std::vector<Transport*>& routes, DeviceBackend& backend, StepDevice* device = nullptr);

  // Starts over with another plan and buffers (same rank, routes and backend); reuses the executor's memory.
  void reset(const Plan& plan, const CollArgs& args, ExecBuffers buffers);

  // Runs the steps that are ready. *progressed tells whether any step ran. Errors: a received message whose size
  // differs from the step's (mixcclInternalError: the ranks' plans disagree), or a step on a channel the transport
  // does not offer (mixcclInternalError).
  Result advance(bool* progressed) override;
  bool done() const override { return lanesLeft_ == 0; }
  // Whether a step waits for its StepDevice work (the caller should poll again soon rather than sleep).
  bool deviceBusy() const override { return busyLanes_ > 0; }

  // The peers the unfinished lanes are blocked on (to check their liveness) and a sentence saying what the first
  // blocked lane waits for, e.g. "step 4 of 12 waits for data from rank 3".
  void blockedPeers(std::vector<int>* peers) const override;
  std::string waitingFor() const override;

 private:
  enum class StepState { kBlocked, kRunning, kDone };
  // A step whose arithmetic is on the StepDevice: what it holds until its fence is reached.
  struct Running {
    uint64_t fence = 0;
    RecvChannel* rc = nullptr;
    SendChannel* sc = nullptr;
    size_t bytes = 0;
    bool active = false;
  };
  // Tries the current step of `lane`.
  Result tryStep(size_t lane, const Step& step, StepState* state);
  // The step's arithmetic: `in` (received or second local input, may be null) (op) `local` -> first, then
  // first copied to `second` (either may be null).
  Result compute(const Step& step, const void* in, const char* local, char* first, char* second);
  // Ends the running step of `lane` if its device work is done: *ended tells.
  Result finishRunning(size_t lane, bool* ended);
  const char* slicePtr(const Slice& s) const;
  // Whether the next step of `lane` must still wait for a step of another lane (Plan::waits); waitsForLane also
  // moves past the waits that are met.
  bool waitsForLane(size_t lane);
  bool laneWaiting(size_t lane) const;
  bool laneRunning(size_t lane) const { return busyLanes_ > 0 && running_[lane].active; }
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
  StepDevice* device_;
  std::vector<Running> running_;  // per lane (only with device_)
  size_t busyLanes_ = 0;
  std::vector<uint32_t> next_;    // per lane: index of the next step to run
  std::vector<size_t> waitNext_;  // per lane: the first of plan_->waits not known to be met (empty: no waits)
  size_t lanesLeft_;
};

}  // namespace mixccl

#pragma once
// Collectives and point-to-point calls on GPU buffers, stream-ordered, through host staging (issue 5): the
// path that works for every rank layout (several ranks on one GPU, GPUs of different vendors, CPU ranks in the
// same communicator), since the data meet in host memory and the host engine moves them.
//
// For one communicator's calls (one call, or the calls of one group), on each user stream involved:
//   D2H copies of the device inputs into pinned staging  ->  record an event  ->  [proxy: wait for the events,
//   run the calls on the staging memory with the host engine, advance the flag]  ->  the stream waits for the
//   flag  ->  H2D copies of the staged outputs into the device outputs  ->  record an event that frees the
//   staging memory for reuse.
// The user's thread only enqueues; it never waits for the GPU or the peers.
//
// Once a communicator has staged a call, all its later calls go through its proxy (in order), also those on
// host buffers, which then wait for their job before returning (host-memory semantics: done on return).
#include <memory>
#include <vector>

#include "core/group.h"

namespace mixccl {

class Communicator;
class DeviceSteps;
class StagedRuntime;
class StagingPool;
class StreamProxy;

// Whether `call` touches GPU memory (a buffer or a pre-mul-sum scalar) and so must be staged.
bool needsStaging(const CollCall& call);

// Launches `calls` (all of communicator `comm`, in issue order) through its proxy, creating the proxy and the
// staging pool on first use. Returns once the GPU work is enqueued (or, for a job without GPU buffers, once it
// has run). Errors of the enqueue are returned; errors of the run become the communicator's async error.
Result launchThroughProxy(mixcclComm* comm, std::vector<CollCall> calls);

// Whether `call` is a collective (all-reduce, all-gather, reduce-scatter, broadcast, reduce) of a one-rank
// communicator on device buffers without a pre-mul-sum: its result is its input, one device copy on its stream.
bool viaSingleRankCopy(const CollCall& call);
// Enqueues that copy (nothing for an in-place call).
Result launchSingleRankCopy(const CollCall& call);

// Whether `call` goes through the communicator's gpu_ipc (transports/gpu_ipc/gpu_ipc.h): every all-reduce,
// all-gather, reduce-scatter, broadcast and reduce of a communicator that uses it, except pre-mul-sum ones. The
// same on every rank (each rank's buffers may be on its GPU or in host memory).
bool viaGpuIpc(const CollCall& call);
// Enqueues such a call on its stream (host buffers: runs it to completion).
Result launchThroughGpuIpc(const CollCall& call);

// The proxy and staging memory of one communicator (created by launchThroughProxy; owned by the Communicator).
class StagedRuntime {
 public:
  // `timeoutSec`: how long a job may wait for its inputs on the user's stream (MIXCCL_TIMEOUT).
  static Result create(GpuBackend* gpu, double timeoutSec, std::unique_ptr<StagedRuntime>* out);
  ~StagedRuntime();  // finish(), if not done yet
  // Drains the proxy, waits (bounded) for the streams to be done with the staging memory and frees what they are
  // done with. Returns whether they all were (false: some memory is left allocated, a stream may still use it). Once;
  // later calls return the same answer. Nothing else may be called after it.
  bool finish();
  GpuBackend* gpu() const { return gpu_; }
  // Makes queued and running jobs fail fast (abort).
  void cancel();
  // Waits until every submitted job has run.
  void drain();

  StreamProxy& proxy() { return *proxy_; }
  StagingPool& pool() { return *pool_; }
  // The GPU side of device-step calls (core/device_steps.h); null when the communicator does not use them.
  DeviceSteps* deviceSteps() { return steps_.get(); }
  // The GPU the device steps run on (-1 without them).
  int stepsDevice() const { return stepsDevice_; }
  // Decides, once (on the communicator's first staged call with a device buffer, with that buffer's device
  // current), whether the communicator uses device steps, and sets them up if so.
  void initDeviceSteps(Communicator& comm);

 private:
  StagedRuntime() = default;
  GpuBackend* gpu_ = nullptr;
  double timeoutSec_ = 0;
  uint32_t* flag_ = nullptr;  // pinned word the proxy advances
  std::unique_ptr<StagingPool> pool_;
  std::unique_ptr<StreamProxy> proxy_;
  std::unique_ptr<DeviceSteps> steps_;
  bool stepsDecided_ = false;
  int stepsDevice_ = -1;  // the device current when the steps were set up
  bool finished_ = false;
  bool idle_ = false;  // finish()'s answer
};

}  // namespace mixccl

#pragma once
// The communicator: who the ranks are, how each peer is reached, and how collectives are run.
//
// Created collectively by Communicator::create (every rank of the job calls it with the same id). Used by one
// thread at a time. Destruction frees transports (shared memory is already unlinked at init) and sockets.
#include <sched.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "device/device_backend.h"
#include "engine/coll_args.h"
#include "engine/plan_cache.h"
#include "engine/wait_loop.h"
#include "transports/transport.h"
#include "tuning/selector.h"

namespace mixccl {

class DeviceSteps;
class ForkStream;
class StagedRuntime;
class GpuBackend;
class GpuIpc;
class SharedReduce;

// What each rank tells the others at init (fixed size: exchanged as bytes through the bootstrap).
struct PeerInfo {
  uint64_t hostHash = 0;
  int32_t pid = 0;
  uint32_t allowedTransports = 0;  // MIXCCL_TRANSPORTS as a mask over compiledTransports(); must agree
  char hostname[64] = {};
  char site[32] = {};  // MIXCCL_SITE (truncated), "" when unset
  cpu_set_t cpus;      // this process's CPU affinity (ranks of a host outnumbering their CPUs cost more)
  char gpuBus[24] = {};  // PCI bus id of the GPU this rank's process uses (core/shared_gpu.h), "" when none
  int64_t pieceBytes = 0;  // MIXCCL_STAGED_PIECE_BYTES (core/pieces.h); must agree
};

// One collective call, with its plan and executor, ready to run.
struct PreparedOp {
  CollArgs args;
  std::shared_ptr<const Plan> plan;
  std::unique_ptr<Executor> executor;
  std::unique_ptr<char[]> scratch;  // the plan's scratch (host memory), if it needs any
  // When set, what runs the op instead of a plan's executor (core/shared_reduce.h's collectives).
  std::unique_ptr<OpRunner> runner;
};

class Communicator {
 public:
  struct Options {
    double timeoutSec = 300;
    std::string name;
  };

  static Result create(const UniqueId& id, int rank, int nranks, const Options& options,
                       std::unique_ptr<Communicator>* out);
  ~Communicator();

  int rank() const { return rank_; }
  // The GPU current when the communicator was created (a usable CUDA or HIP device), -1 when none.
  int device() const { return device_; }
  int nranks() const { return nranks_; }
  const PeerInfo& peer(int r) const { return peers_[r]; }
  const ClusterView& cluster() const { return cluster_; }

  // Selects an algorithm, fetches its plan and makes an executor over the given host buffers, or, with `steps`,
  // over device buffers, its arithmetic on the GPU (core/device_steps.h; scratch from `steps` too).
  Result prepare(const CollArgs& args, const void* send, void* recv, PreparedOp* out, DeviceSteps* steps = nullptr);
  // The device scratch prepare() will need for the collective `args` (any thread: the plan cache is locked).
  Result scratchBytes(const CollArgs& args, size_t* out);
  // A send of `args.count` elements from `send` to `peer` (args.type kSend), or a receive into `recv` (kRecv).
  Result preparePointToPoint(const CollArgs& args, int peer, const void* send, void* recv, PreparedOp* out,
                             DeviceSteps* steps = nullptr);
  // Runs one collective now, to completion (the path of every call outside a group; allocation-free once warm), in
  // pieces where core/pieces.h cuts it.
  Result runNow(const CollArgs& args, const void* send, void* recv);
  // The ActiveOp that runs `ops` (all of this communicator) in order.
  ActiveOp activeOp(std::vector<PreparedOp>& ops);
  const WaitPolicy& waitPolicy() const { return policy_; }

  // Where large calls are cut into pieces (core/pieces.h): MIXCCL_STAGED_PIECE_BYTES at init, equal on every rank.
  int64_t pieceBytes() const { return pieceBytes_; }
  // The transports that reach at least one peer.
  const std::vector<Transport*>& transportsInUse() const { return used_; }
  // Whether some peer is on another host.
  bool hasRemotePeers() const;
  // Whether another rank of this communicator is a thread of this process (same host and pid).
  bool sharesProcess() const;
  // Whether this rank's GPU time-slices between processes of the communicator (core/shared_gpu.h).
  bool gpuTimeSliced() const;

  // The bootstrap's view of a peer's liveness, for ActiveOp::peerGone.
  std::function<bool(int, std::string*)> peerGoneCheck();

  // Records the first error of an operation; later calls report it (the communicator is unusable then). Any
  // thread (the proxy's too).
  void setAsyncError(Result code);
  Result asyncError() const { return asyncError_.load(); }
  std::string asyncErrorMessage() const;

  // Tells the peers this rank is leaving (they fail fast instead of timing out), and makes this rank's running
  // and queued operations fail at their next wait.
  void notifyAbort();
  // The rank whose abort notice (or notice of a lost rank) reached this one through its transports, or -1.
  int peerAbortCulprit() const;

  // The proxy and staging memory of stream-ordered GPU calls (core/device_launch.h): null until the first one.
  StagedRuntime* stagedRuntime() { return staged_.get(); }
  Result createStagedRuntime(GpuBackend* gpu, StagedRuntime** out);
  // Waits until every call handed to the proxy has run (finalize, split, destroy).
  void drainStaged();
  // Makes the calls queued on the proxy fail now, and the shared segment's waits end (shrink's abort mode, abort).
  void cancelStaged();
  // The mapped device memory of the ranks' GPUs (transports/gpu_ipc), or null when not used (decided at init,
  // alike on every rank).
  GpuIpc* gpuIpc() { return ipc_.get(); }
  // The segment where collectives meet (core/shared_reduce.h), or null when not used (decided at init, alike on
  // every rank). When used, every call of the communicator goes through its proxy (the staged runtime is made at
  // init).
  SharedReduce* sharedReduce() const { return shared_.get(); }
  // This communicator's stream for the calls a group moves off a stream it shares with other communicators
  // (core/fork_stream.h): made on first use, on `device` of `gpu`; an error if an earlier one is on another device.
  Result forkStream(GpuBackend* gpu, int device, ForkStream** out);

  // The out-of-band channel among this communicator's ranks (used by split and shrink) and the options it was
  // created with (what a child inherits).
  Bootstrap& bootstrap() { return *bootstrap_; }
  const Options& options() const { return options_; }

  bool finalized = false;

 private:
  Communicator() = default;
  Result connect();
  // Makes the staged runtime now (collective): every call then goes through the proxy.
  Result proxyEveryCall();
  // runNow for one piece.
  Result runWhole(const CollArgs& args, const void* send, void* recv);
  // The scratch and executor of `out`, whose args and plan are set.
  Result makeExecutor(const void* send, void* recv, PreparedOp* out, DeviceSteps* steps);

  int rank_ = 0;
  int nranks_ = 1;
  int device_ = -1;
  GpuBackend* deviceGpu_ = nullptr;  // the backend of device_ (nullptr when device_ is -1)
  Options options_;
  WaitPolicy policy_;
  std::unique_ptr<Bootstrap> bootstrap_;
  std::vector<PeerInfo> peers_;
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<Transport*> routes_;  // by peer
  std::vector<Transport*> used_;    // the transports that reach at least one peer (what a wait sleeps on)
  DeviceBackend* backend_ = nullptr;
  // The plan of a collective (selector_ and plans_ under planMu_: the proxy prepares calls while the user's thread
  // sizes device scratch).
  Result planFor(const CollArgs& args, std::shared_ptr<const Plan>* plan, const Algorithm** algo);
  std::mutex planMu_;
  Selector selector_;
  PlanCache plans_;
  uint64_t chunkBytes_ = 0;
  int64_t pieceBytes_ = 0;
  ClusterView cluster_;  // built from the gathered PeerInfo; the same on every rank
  // Reused by runNow().
  std::vector<char> singleScratch_;
  std::shared_ptr<const Plan> singlePlan_;
  std::unique_ptr<Executor> singleExec_;
  std::vector<ActiveOp> singleOps_;
  std::atomic<Result> asyncError_{mixcclSuccess};
  mutable std::mutex asyncMu_;
  std::string asyncMessage_;
  std::atomic<bool> cancelled_{false};  // set by notifyAbort; seen by every wait (WaitPolicy::cancelled)
  std::unique_ptr<StagedRuntime> staged_;
  std::unique_ptr<GpuIpc> ipc_;
  std::unique_ptr<SharedReduce> shared_;  // after staged_ (whose streams copy to and from it) is gone
  std::unique_ptr<ForkStream> fork_;  // destroyed first: it waits for its last join's work (gpu_ipc's rounds too)
};

}  // namespace mixccl

namespace mixccl {
class AsyncInit;
class PreMulSumOps;
}  // namespace mixccl

// The C handle (its checks and life cycle: core/comm_handle.h). `impl` is null while a non-blocking init runs
// (`pending` set) or after it failed (`pending` keeps the error).
struct mixcclComm {
  static constexpr uint32_t kMagic = 0x6d63636cu;  // "mccl"
  mixcclComm();
  ~mixcclComm();
  uint32_t magic = kMagic;
  std::unique_ptr<mixccl::Communicator> impl;
  std::shared_ptr<mixccl::AsyncInit> pending;
  std::unique_ptr<mixccl::PreMulSumOps> userOps;  // the pre-mul-sum operators created on it (core/pre_mul_sum.h)
};

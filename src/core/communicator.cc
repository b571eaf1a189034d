#include "core/communicator.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "algorithms/p2p.h"
#include "core/cluster_init.h"
#include "core/config.h"
#include "core/datatype.h"
#include "core/device_launch.h"
#include "core/device_steps.h"
#include "core/fork_stream.h"
#include "core/log.h"
#include "core/pieces.h"
#include "core/shared_gpu.h"
#include "core/shared_reduce.h"
#include "device/gpu_backend.h"
#include "topology/host_id.h"
#include "transports/gpu_ipc/gpu_ipc.h"
#include "transports/registry.h"
#include "transports/shm/shm_transport.h"

namespace mixccl {

Result Communicator::create(const UniqueId& id, int rank, int nranks, const Options& options,
                            std::unique_ptr<Communicator>* out) {
  std::unique_ptr<Communicator> comm(new Communicator());
  comm->rank_ = rank;
  comm->nranks_ = nranks;
  comm->options_ = options;
  comm->policy_.timeoutSec = options.timeoutSec;
  comm->policy_.cancelled = &comm->cancelled_;
  comm->backend_ = &cpuBackend();
  for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
    GpuBackend* gpu = gpuBackend(t);
    if (gpu != nullptr && gpu->currentDevice(&comm->device_) == mixcclSuccess) {
      MIXCCL_TRY(gpu->loadKernels(/*onlyIfStarted=*/true));  // before a stream of this comm waits on a peer
      comm->deviceGpu_ = gpu;
      break;
    }
    comm->device_ = -1;
  }
  MIXCCL_TRY(Selector::create(configString(cfg::kAlgo), &comm->selector_));
  MIXCCL_TRY(bootstrapInit(id, rank, nranks, options.timeoutSec, &comm->bootstrap_));
  MIXCCL_TRY(comm->connect());
  const bool oneHost = !comm->hasRemotePeers();
  std::vector<int> pids;
  for (const PeerInfo& p : comm->peers_) pids.push_back(p.pid);
  Communicator* self = comm.get();
  auto lost = [self](int peer, bool aborted) {
    if (aborted) {
      self->setAsyncError(failf(mixcclRemoteError, "gpu_ipc on rank %d: rank %d of this process aborted the "
                                "communicator; the collectives still running on the streams complete with invalid "
                                "results", self->rank_, peer));
      return;
    }
    self->setAsyncError(failf(mixcclRemoteError, "gpu_ipc on rank %d: rank %d (pid %d) exited; the all-reduces "
                              "still running on the streams complete with invalid results", self->rank_, peer,
                              self->peers_[peer].pid));
  };
  MIXCCL_TRY(GpuIpc::create(*comm->bootstrap_, oneHost, pids, lost, &comm->ipc_));
  MIXCCL_TRY(
      SharedReduce::create(*comm->bootstrap_, oneHost && comm->ipc_ == nullptr, comm->deviceGpu_, &comm->shared_));
  if (comm->shared_ != nullptr) MIXCCL_TRY(comm->proxyEveryCall());
  setLogRank(rank);
  noteSharedGpus(comm->peers_, rank);
  MIXCCL_LOG(kInfo, "communicator %s ready: rank %d of %d, chunk %llu bytes", options.name.c_str(), rank, nranks,
             static_cast<unsigned long long>(comm->chunkBytes_));
  *out = std::move(comm);
  return mixcclSuccess;
}

Communicator::~Communicator() {
  fork_.reset();
  // The proxy thread uses the transports: it goes first. Streams that still copy to or from the shared segment after
  // the bounded wait keep it mapped (its name is gone already: nothing is left behind once the process ends).
  const bool streamsDone = staged_ == nullptr || staged_->finish();
  staged_.reset();
  if (!streamsDone && shared_ != nullptr) {
    MIXCCL_LOG(kWarn, "rank %d: streams still use the shared segment at teardown; it stays mapped", rank_);
    (void)shared_.release();
  }
  shared_.reset();
  ipc_.reset();
}

Result Communicator::createStagedRuntime(GpuBackend* gpu, StagedRuntime** out) {
  MIXCCL_TRY(StagedRuntime::create(gpu, policy_.timeoutSec, &staged_));
  *out = staged_.get();
  return mixcclSuccess;
}

// With the shared segment every call of a rank with a GPU goes through its proxy, host-memory ones too, so that the
// collectives of every rank take their pieces in issue order (core/shared_launch.h); a rank without a GPU runs its
// calls on the calling thread, in issue order too. Every rank has the segment, so every rank takes part in the status
// exchange: one that cannot make its proxy fails them all.
Result Communicator::proxyEveryCall() {
  StagedRuntime* rt = nullptr;
  const Result made = deviceGpu_ != nullptr ? createStagedRuntime(deviceGpu_, &rt) : mixcclSuccess;
  const int32_t mine = made == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> all(size_t(nranks_), 0);
  MIXCCL_TRY(bootstrap_->allGather(&mine, all.data(), sizeof(mine)));
  MIXCCL_TRY(made);
  for (int r = 0; r < nranks_; ++r) {
    if (all[size_t(r)] != 0) return failf(mixcclRemoteError, "rank %d: rank %d failed to start its proxy", rank_, r);
  }
  return mixcclSuccess;
}

void Communicator::drainStaged() {
  if (staged_) staged_->drain();
}

// Exchanges node info and sets up one transport per peer: shared memory within a host, the first allowed network
// transport between hosts (transports/registry.h). Every choice is made from the gathered PeerInfo, so the two
// ranks of a pair always agree.
Result Communicator::connect() {
  PeerInfo mine;
  const HostIdentity& host = localHostIdentity();
  mine.hostHash = host.hash;
  mine.pid = getpid();
  strncpy(mine.hostname, host.hostname.c_str(), sizeof(mine.hostname) - 1);
  strncpy(mine.site, configString(cfg::kSite).c_str(), sizeof(mine.site) - 1);
  CPU_ZERO(&mine.cpus);
  if (sched_getaffinity(0, sizeof(mine.cpus), &mine.cpus) != 0) CPU_SET(0, &mine.cpus);
  Result allowedOk = allowedTransports(configString(cfg::kTransports), &mine.allowedTransports);
  if (deviceGpu_ != nullptr) strncpy(mine.gpuBus, deviceGpu_->busIdInUse(device_).c_str(), sizeof(mine.gpuBus) - 1);
  mine.pieceBytes = std::max<int64_t>(0, configInt(cfg::kStagedPieceBytes));
  peers_.resize(nranks_);
  // A rank with a bad MIXCCL_TRANSPORTS still takes part in the exchange (mask 0), so the others fail too.
  MIXCCL_TRY(bootstrap_->allGather(&mine, peers_.data(), sizeof(PeerInfo)));
  if (allowedOk != mixcclSuccess) return allowedOk;
  for (int r = 0; r < nranks_; ++r) {
    if (peers_[r].allowedTransports != mine.allowedTransports) {
      return failf(mixcclInvalidUsage, "rank %d: MIXCCL_TRANSPORTS differs between ranks (rank %d on %s allows mask "
                   "0x%x, this rank 0x%x): set the same value everywhere", rank_, r, peers_[r].hostname,
                   peers_[r].allowedTransports, mine.allowedTransports);
    }
    // Ranks that cut a call differently would pair messages of different pieces, possibly without a size to tell.
    if (peers_[r].pieceBytes != mine.pieceBytes) {
      return failf(mixcclInvalidUsage, "rank %d: MIXCCL_STAGED_PIECE_BYTES differs between ranks (rank %d on %s has "
                   "%lld, this rank %lld): set the same value everywhere", rank_, r, peers_[r].hostname,
                   (long long)peers_[r].pieceBytes, (long long)mine.pieceBytes);
    }
  }
  pieceBytes_ = mine.pieceBytes;

  std::vector<RankFacts> facts(nranks_);
  for (int r = 0; r < nranks_; ++r) facts[r] = {peers_[r].hostHash, peers_[r].hostname, peers_[r].site, peers_[r].cpus};
  MIXCCL_TRY(buildClusterView(*bootstrap_, facts, &cluster_));

  // The transport of every pair, from shared facts only.
  const auto& kinds = compiledTransports();
  std::vector<std::vector<int>> peersOf(kinds.size());
  std::vector<bool> anyUses(kinds.size(), false);
  for (int a = 0; a < nranks_; ++a) {
    for (int b = 0; b < nranks_; ++b) {
      if (a == b) continue;
      int t = transportForPair(peers_[a].hostHash == peers_[b].hostHash, mine.allowedTransports);
      if (t < 0) {
        if (a != rank_ && b != rank_) continue;
        int other = a == rank_ ? b : a;
        return failf(mixcclInvalidUsage, "rank %d: no allowed transport reaches rank %d on host %s "
                     "(MIXCCL_TRANSPORTS=%s; this build has no network transport, or it is not allowed)", rank_, other,
                     peers_[other].hostname, configString(cfg::kTransports).c_str());
      }
      anyUses[t] = true;
      if (a == rank_) peersOf[t].push_back(b);
    }
  }

  routes_.assign(nranks_, nullptr);
  for (size_t t = 0; t < kinds.size(); ++t) {
    std::unique_ptr<Transport> transport;
    if (!kinds[t].network) {
      // Shared memory always takes part (its setup is collective); it reaches the local ranks it was given.
      std::vector<int> local{rank_};
      if (mine.allowedTransports & (1u << t)) {
        for (int r : peersOf[t]) local.push_back(r);
        std::sort(local.begin(), local.end());
      }
      MIXCCL_TRY(createShmTransport(*bootstrap_, local, &transport));
    } else if (anyUses[t]) {
      MIXCCL_TRY(kinds[t].create(*bootstrap_, peersOf[t], &transport));
    } else {
      continue;
    }
    for (int r : peersOf[t]) routes_[r] = transport.get();
    if (!peersOf[t].empty()) {
      used_.push_back(transport.get());
      MIXCCL_LOG(kInfo, "rank %d reaches %zu peer(s) through %s", rank_, peersOf[t].size(), kinds[t].name);
    }
    transports_.push_back(std::move(transport));
  }

  // The pipeline chunk must fit every transport's slot.
  uint64_t slot = UINT64_MAX;
  for (auto& t : transports_) {
    if (t->caps().slotBytes > 0) slot = std::min<uint64_t>(slot, t->caps().slotBytes);
  }
  if (slot == UINT64_MAX) slot = configInt(cfg::kChunkBytes);
  chunkBytes_ = std::min<uint64_t>(configInt(cfg::kChunkBytes), slot);
  if (chunkBytes_ < 8) chunkBytes_ = slot;
  // Every rank leaves init only when every transport is connected everywhere.
  return bootstrap_->barrier();
}

Result Communicator::prepare(const CollArgs& args, const void* send, void* recv, PreparedOp* out,
                             DeviceSteps* steps) {
  const Algorithm* algo = nullptr;
  MIXCCL_TRY(planFor(args, &out->plan, &algo));
  out->args = args;
  MIXCCL_LOG(kTrace, "%s count %llu: %s, %zu steps%s", collName(args.type),
             static_cast<unsigned long long>(args.count), algo->name(), out->plan->steps.size(),
             steps != nullptr ? " on the GPU" : "");
  return makeExecutor(send, recv, out, steps);
}

Result Communicator::planFor(const CollArgs& args, std::shared_ptr<const Plan>* plan, const Algorithm** algo) {
  std::lock_guard<std::mutex> lock(planMu_);
  PlanContext ctx{rank_, nranks_, chunkBytes_, &cluster_};
  MIXCCL_TRY(selector_.select(args, ctx, algo));
  *plan = plans_.get(**algo, args, ctx);
  return mixcclSuccess;
}

Result Communicator::scratchBytes(const CollArgs& args, size_t* out) {
  std::shared_ptr<const Plan> plan;
  const Algorithm* algo = nullptr;
  MIXCCL_TRY(planFor(args, &plan, &algo));
  *out = plan->scratchElements * dataTypeSize(args.dtype);
  return mixcclSuccess;
}

Result Communicator::makeExecutor(const void* send, void* recv, PreparedOp* out, DeviceSteps* steps) {
  const size_t scratchBytes = out->plan->scratchElements * dataTypeSize(out->args.dtype);
  void* scratch = nullptr;
  if (scratchBytes > 0 && steps != nullptr) {
    MIXCCL_TRY(steps->scratch(scratchBytes, &scratch));
  } else if (scratchBytes > 0) {
    out->scratch.reset(new char[scratchBytes]);
    scratch = out->scratch.get();
  }
  ExecBuffers bufs{send, recv, scratch};
  out->executor = std::make_unique<Executor>(*out->plan, out->args, rank_, nranks_, bufs, routes_, *backend_,
                                             steps != nullptr ? &steps->device() : nullptr);
  return mixcclSuccess;
}

bool Communicator::gpuTimeSliced() const { return mixccl::gpuTimeSliced(peers_, rank_); }

bool Communicator::hasRemotePeers() const {
  for (const PeerInfo& p : peers_) {
    if (p.hostHash != peers_[size_t(rank_)].hostHash) return true;
  }
  return false;
}

bool Communicator::sharesProcess() const {
  const PeerInfo& me = peers_[size_t(rank_)];
  for (int r = 0; r < nranks_; ++r) {
    if (r != rank_ && peers_[size_t(r)].hostHash == me.hostHash && peers_[size_t(r)].pid == me.pid) return true;
  }
  return false;
}

Result Communicator::runNow(const CollArgs& args, const void* send, void* recv) {
  return forEachPiece(args, pieceBytes_, send, recv,
                      [this](const CollArgs& a, const void* s, void* r) { return runWhole(a, s, r); });
}

Result Communicator::runWhole(const CollArgs& args, const void* send, void* recv) {
  const Algorithm* algo = nullptr;
  Result res = planFor(args, &singlePlan_, &algo);
  if (res != mixcclSuccess) return res;
  MIXCCL_LOG(kTrace, "%s count %llu: %s, %zu steps", collName(args.type),
             static_cast<unsigned long long>(args.count), algo->name(), singlePlan_->steps.size());
  const size_t scratchBytes = singlePlan_->scratchElements * dataTypeSize(args.dtype);
  if (singleScratch_.size() < scratchBytes) singleScratch_.resize(scratchBytes);
  ExecBuffers bufs{send, recv, singleScratch_.data()};
  if (!singleExec_) {
    singleExec_ = std::make_unique<Executor>(*singlePlan_, args, rank_, nranks_, bufs, routes_, *backend_);
  } else {
    singleExec_->reset(*singlePlan_, args, bufs);
  }
  if (singleOps_.empty()) {
    ActiveOp op;
    op.rank = rank_;
    op.routes = &routes_;
    op.transports = used_;
    op.peerGone = peerGoneCheck();
    op.chain.push_back(singleExec_.get());
    op.collectives.push_back("");
    singleOps_.push_back(std::move(op));
  }
  singleOps_[0].current = 0;
  singleOps_[0].collectives[0] = collName(args.type);
  res = runToCompletion(singleOps_, policy_);
  if (res != mixcclSuccess) setAsyncError(res);
  return res;
}

Result Communicator::preparePointToPoint(const CollArgs& args, int peer, const void* send, void* recv,
                                         PreparedOp* out, DeviceSteps* steps) {
  const uint64_t chunkElems = chunkBytes_ / dataTypeSize(args.dtype);
  out->args = args;
  out->plan = std::make_shared<const Plan>(pointToPointPlan(args.type == CollType::kSend, peer, args.count, chunkElems));
  return makeExecutor(send, recv, out, steps);
}

ActiveOp Communicator::activeOp(std::vector<PreparedOp>& ops) {
  ActiveOp op;
  op.rank = rank_;
  op.routes = &routes_;
  op.transports = used_;
  op.peerGone = peerGoneCheck();
  for (PreparedOp& p : ops) {
    op.chain.push_back(p.runner != nullptr ? p.runner.get() : static_cast<OpRunner*>(p.executor.get()));
    op.collectives.push_back(collName(p.args.type));
  }
  return op;
}

std::function<bool(int, std::string*)> Communicator::peerGoneCheck() {
  Bootstrap* boot = bootstrap_.get();
  return [boot](int peer, std::string* why) { return boot->peerClosed(peer, why); };
}

void Communicator::setAsyncError(Result code) {
  std::lock_guard<std::mutex> lock(asyncMu_);
  Result expected = mixcclSuccess;
  if (asyncError_.compare_exchange_strong(expected, code)) asyncMessage_ = lastErrorMessage();
}

std::string Communicator::asyncErrorMessage() const {
  std::lock_guard<std::mutex> lock(asyncMu_);
  return asyncMessage_;
}

Result Communicator::forkStream(GpuBackend* gpu, int device, ForkStream** out) {
  if (fork_ != nullptr && fork_->device() != device) {
    return failf(mixcclInvalidUsage, "rank %d: a group moved this communicator's calls off a shared stream of "
                 "device %d earlier and now of device %d: its GPU calls must stay on one device", rank_,
                 fork_->device(), device);
  }
  if (fork_ == nullptr) MIXCCL_TRY(ForkStream::create(gpu, device, &fork_));
  *out = fork_.get();
  return mixcclSuccess;
}

int Communicator::peerAbortCulprit() const {
  for (Transport* t : used_) {
    const int culprit = t->abortNotice();
    if (culprit >= 0) return culprit;
  }
  return -1;
}

void Communicator::cancelStaged() {
  if (staged_) staged_->cancel();
  if (shared_) shared_->fail();  // its waits, here and on the other ranks, end now too
}

void Communicator::notifyAbort() {
  cancelled_.store(true);
  cancelStaged();
  if (ipc_) ipc_->releaseAll();
  for (auto& t : transports_) t->notifyAbort(rank_);
}

}  // namespace mixccl

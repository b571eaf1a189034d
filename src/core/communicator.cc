#include "core/communicator.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/config.h"
#include "core/log.h"
#include "topology/host_id.h"
#include "transports/shm/shm_transport.h"

namespace mixccl {

Result Communicator::create(const UniqueId& id, int rank, int nranks, const Options& options,
                            std::unique_ptr<Communicator>* out) {
  std::unique_ptr<Communicator> comm(new Communicator());
  comm->rank_ = rank;
  comm->nranks_ = nranks;
  comm->options_ = options;
  comm->policy_.timeoutSec = options.timeoutSec;
  comm->backend_ = &cpuBackend();
  MIXCCL_TRY(Selector::create(configString(cfg::kAlgo), &comm->selector_));
  MIXCCL_TRY(bootstrapInit(id, rank, nranks, options.timeoutSec, &comm->bootstrap_));
  MIXCCL_TRY(comm->connect());
  setLogRank(rank);
  MIXCCL_LOG(kInfo, "communicator %s ready: rank %d of %d, chunk %llu bytes", options.name.c_str(), rank, nranks,
             static_cast<unsigned long long>(comm->chunkBytes_));
  *out = std::move(comm);
  return mixcclSuccess;
}

Communicator::~Communicator() = default;

// Exchanges node info and sets up one transport per peer.
Result Communicator::connect() {
  PeerInfo mine;
  const HostIdentity& host = localHostIdentity();
  mine.hostHash = host.hash;
  mine.pid = getpid();
  strncpy(mine.hostname, host.hostname.c_str(), sizeof(mine.hostname) - 1);
  peers_.resize(nranks_);
  MIXCCL_TRY(bootstrap_->allGather(&mine, peers_.data(), sizeof(PeerInfo)));

  std::vector<int> local;
  for (int r = 0; r < nranks_; ++r) {
    if (peers_[r].hostHash == mine.hostHash) local.push_back(r);
  }
  std::unique_ptr<Transport> shm;
  MIXCCL_TRY(createShmTransport(*bootstrap_, local, &shm));
  routes_.assign(nranks_, nullptr);
  for (int r = 0; r < nranks_; ++r) {
    if (r == rank_) continue;
    if (shm->reaches(r)) {
      routes_[r] = shm.get();
      continue;
    }
    return failf(mixcclInvalidUsage, "rank %d: peer rank %d is on another host (%s) and this build has no network "
                 "transport yet; all ranks must share a host (set MIXCCL_HOSTNAME to override the host identity)",
                 rank_, r, peers_[r].hostname);
  }
  uint64_t slot = shm->caps().slotBytes;
  chunkBytes_ = std::min<uint64_t>(configInt(cfg::kChunkBytes), slot);
  if (chunkBytes_ < 8) chunkBytes_ = slot;
  transports_.push_back(std::move(shm));
  // Every rank leaves init only when every transport is connected everywhere.
  return bootstrap_->barrier();
}

Result Communicator::prepare(const CollArgs& args, const void* send, void* recv, PreparedOp* out) {
  PlanContext ctx{rank_, nranks_, chunkBytes_};
  const Algorithm* algo = nullptr;
  MIXCCL_TRY(selector_.select(args, ctx, &algo));
  out->args = args;
  out->plan = plans_.get(*algo, args, ctx);
  MIXCCL_LOG(kTrace, "%s count %llu: %s, %zu steps", collName(args.type),
             static_cast<unsigned long long>(args.count), algo->name(), out->plan->steps.size());
  ExecBuffers bufs{send, recv, nullptr};
  out->executor = std::make_unique<Executor>(*out->plan, args, rank_, nranks_, bufs, routes_, *backend_);
  return mixcclSuccess;
}

Result Communicator::runNow(const CollArgs& args, const void* send, void* recv) {
  PlanContext ctx{rank_, nranks_, chunkBytes_};
  const Algorithm* algo = nullptr;
  Result res = selector_.select(args, ctx, &algo);
  if (res != mixcclSuccess) return res;
  singlePlan_ = plans_.get(*algo, args, ctx);
  ExecBuffers bufs{send, recv, nullptr};
  if (!singleExec_) {
    singleExec_ = std::make_unique<Executor>(*singlePlan_, args, rank_, nranks_, bufs, routes_, *backend_);
  } else {
    singleExec_->reset(*singlePlan_, args, bufs);
  }
  if (singleOps_.empty()) {
    ActiveOp op;
    op.rank = rank_;
    op.routes = &routes_;
    for (auto& t : transports_) op.transports.push_back(t.get());
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

ActiveOp Communicator::activeOp(std::vector<PreparedOp>& ops) {
  ActiveOp op;
  op.rank = rank_;
  op.routes = &routes_;
  for (auto& t : transports_) op.transports.push_back(t.get());
  for (PreparedOp& p : ops) {
    op.chain.push_back(p.executor.get());
    op.collectives.push_back(collName(p.args.type));
  }
  return op;
}

void Communicator::setAsyncError(Result code) {
  Result expected = mixcclSuccess;
  if (asyncError_.compare_exchange_strong(expected, code)) asyncMessage_ = lastErrorMessage();
}

void Communicator::notifyAbort() {
  for (auto& t : transports_) t->notifyAbort(rank_);
}

}  // namespace mixccl

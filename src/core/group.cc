#include "core/group.h"

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "core/communicator.h"
#include "core/datatype.h"
#include "core/device_launch.h"
#include "core/fork_stream.h"
#include "core/log.h"
#include "core/pieces.h"
#include "core/shared_launch.h"
#include "core/shared_reduce.h"

namespace mixccl {
namespace {

struct GroupState {
  int depth = 0;
  std::vector<CollCall> calls;
  std::vector<std::function<Result()>> inits;
};

thread_local GroupState tGroup;

// Matches a communicator's sends to itself with its receives from itself, in order, and copies.
Result copySelfMessages(std::vector<const CollCall*>& sends, std::vector<const CollCall*>& recvs) {
  if (sends.size() != recvs.size()) {
    return failf(mixcclInvalidUsage, "group: %zu send(s) to this rank itself but %zu receive(s) from it",
                 sends.size(), recvs.size());
  }
  for (size_t i = 0; i < sends.size(); ++i) {
    const CollCall& s = *sends[i];
    const CollCall& r = *recvs[i];
    if (s.args.count != r.args.count || s.args.dtype != r.args.dtype) {
      return failf(mixcclInvalidUsage, "group: send %zu to self has %zu elements of type %d, the receive %zu "
                   "elements of type %d", i, static_cast<size_t>(s.args.count), s.args.dtype,
                   static_cast<size_t>(r.args.count), r.args.dtype);
    }
    cpuBackend().copy(r.recv, s.send, s.args.count * dataTypeSize(s.args.dtype));
  }
  return mixcclSuccess;
}

}  // namespace

// Runs the calls (see group.h for the order).
Result runHostCalls(std::vector<CollCall>& calls) {
  // Per communicator: [0] the collective chain, then one chain per (peer, direction) of point-to-point calls.
  struct CommWork {
    std::vector<std::vector<PreparedOp>> chains{1};
    std::map<std::pair<int, bool>, size_t> p2pChain;
    std::vector<const CollCall*> selfSends, selfRecvs;
  };
  std::map<mixcclComm*, CommWork> work;
  std::vector<mixcclComm*> order;
  for (CollCall& c : calls) {
    auto [it, fresh] = work.try_emplace(c.comm);
    if (fresh) order.push_back(c.comm);
    CommWork& w = it->second;
    Communicator& comm = *c.comm->impl;
    const bool isSend = c.args.type == CollType::kSend;
    DeviceSteps* steps = c.deviceSteps;
    Result res = mixcclSuccess;
    // On a rank without a GPU the calls of a communicator that uses the shared segment run here, in issue order,
    // rather than through a proxy: they take their pieces now (core/shared_launch.h); a proxy's job has them already.
    if (reserveSharedPiece(comm, c)) {
      // Through the shared segment, in order on the collective chain (core/shared_launch.h).
      w.chains[0].emplace_back();
      w.chains[0].back().args = c.args;
      w.chains[0].back().runner = comm.sharedReduce()->hostOp(c.args, c.send, c.recv, c.sharedPiece);
    } else if (c.args.type != CollType::kSend && c.args.type != CollType::kRecv) {
      // One op per piece (core/pieces.h), in order on the collective chain.
      res = forEachPiece(c.args, comm.pieceBytes(), c.send, c.recv, [&](const CollArgs& a, const void* s, void* r) {
        w.chains[0].emplace_back();
        return comm.prepare(a, s, r, &w.chains[0].back(), steps);
      });
    } else if (c.peer == comm.rank()) {
      (isSend ? w.selfSends : w.selfRecvs).push_back(&c);
    } else {
      auto [chain, added] = w.p2pChain.try_emplace({c.peer, isSend}, w.chains.size());
      if (added) w.chains.emplace_back();
      std::vector<PreparedOp>& ops = w.chains[chain->second];
      ops.emplace_back();
      res = comm.preparePointToPoint(c.args, c.peer, c.send, c.recv, &ops.back(), steps);
    }
    if (res != mixcclSuccess) {
      comm.setAsyncError(res);
      return res;
    }
  }
  std::vector<ActiveOp> active;
  std::vector<mixcclComm*> activeComm;
  for (mixcclComm* comm : order) {
    CommWork& w = work[comm];
    MIXCCL_TRY(copySelfMessages(w.selfSends, w.selfRecvs));
    for (auto& chain : w.chains) {
      if (chain.empty()) continue;
      active.push_back(comm->impl->activeOp(chain));
      activeComm.push_back(comm);
    }
  }
  if (active.empty()) return mixcclSuccess;
  WaitPolicy policy = order.front()->impl->waitPolicy();
  for (mixcclComm* comm : order) {
    policy.timeoutSec = std::min(policy.timeoutSec, comm->impl->waitPolicy().timeoutSec);
  }
  Result res = runToCompletion(active, policy);
  if (res != mixcclSuccess) {
    for (size_t i = 0; i < active.size(); ++i) {
      if (!opDone(active[i])) activeComm[i]->impl->setAsyncError(res);
    }
  }
  return res;
}

namespace {

Result dispatchStagedOrHost(std::vector<CollCall>& calls);

// Runs or launches `calls`: collectives of one-rank communicators on device buffers are one device copy; the
// all-reduces of communicators that use gpu_ipc go there; the calls of
// communicators that use a proxy (they have GPU buffers now or had
// before) go to their proxies, the others run here; host-memory calls are done when this returns.
Result dispatchForked(std::vector<CollCall>& calls);

// Whether `c` keeps the launching thread until it is done, and so until its peers have done their part: a call on
// host memory only (done on return) of a communicator that uses gpu_ipc or a proxy. (runHostCalls interleaves the
// host-memory calls of several communicators on one thread itself.)
bool holdsTheThread(const CollCall& c) {
  if (needsStaging(c)) return false;
  return viaGpuIpc(c) || c.comm->impl->stagedRuntime() != nullptr;
}

// One thread launching several communicators' calls (a group over ranks of one process) would wait in the first
// call that holds it for ranks whose calls it has not launched yet. Such a group launches each communicator's calls
// on a thread of its own, and returns once they all have.
Result dispatchPerCommunicator(std::vector<CollCall>& calls) {
  std::vector<mixcclComm*> comms;
  for (const CollCall& c : calls) {
    if (std::find(comms.begin(), comms.end(), c.comm) == comms.end()) comms.push_back(c.comm);
  }
  std::vector<std::vector<CollCall>> byComm(comms.size());
  for (CollCall& c : calls) {
    byComm[size_t(std::find(comms.begin(), comms.end(), c.comm) - comms.begin())].push_back(std::move(c));
  }
  std::vector<Result> results(comms.size(), mixcclSuccess);
  std::vector<std::string> messages(comms.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < comms.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = dispatchForked(byComm[i]);
      messages[i] = lastErrorMessage();
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < comms.size(); ++i) {
    if (results[i] != mixcclSuccess) {
      setLastErrorMessage(messages[i]);  // logged already, on its thread
      return results[i];
    }
  }
  return mixcclSuccess;
}

// dispatchForked, with the streams that GPU calls of several communicators share forked first and joined after
// (core/fork_stream.h), and on a thread per communicator where a call would hold the launching thread.
Result dispatch(std::vector<CollCall>& calls) {
  if (calls.size() == 1) return dispatchForked(calls);
  std::vector<StreamJoin> joins;
  const Result forked = forkSharedStreams(calls, &joins);
  if (forked != mixcclSuccess) {
    // Nothing was launched: the other ranks would wait for this rank's pieces of the shared segment.
    for (const CollCall& c : calls) {
      if (viaShared(*c.comm->impl, c)) c.comm->impl->sharedReduce()->fail();
    }
    return forked;
  }
  bool severalComms = false, holds = false;
  for (const CollCall& c : calls) {
    severalComms |= c.comm != calls.front().comm;
    holds |= holdsTheThread(c);
  }
  Result res = severalComms && holds ? dispatchPerCommunicator(calls) : dispatchForked(calls);
  Result joined = joinForks(joins);
  return res != mixcclSuccess ? res : joined;
}

Result dispatchForked(std::vector<CollCall>& calls) {
  // Those are enqueued here, in issue order; they share nothing with the other paths.
  Result ipc = mixcclSuccess;
  size_t keep = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (viaSingleRankCopy(calls[i]) || viaGpuIpc(calls[i])) {
      Result r = viaSingleRankCopy(calls[i]) ? launchSingleRankCopy(calls[i]) : launchThroughGpuIpc(calls[i]);
      if (ipc == mixcclSuccess) ipc = r;
    } else {
      if (keep != i) calls[keep] = std::move(calls[i]);
      ++keep;
    }
  }
  calls.resize(keep);
  if (calls.empty()) return ipc;
  Result rest = dispatchStagedOrHost(calls);
  return ipc != mixcclSuccess ? ipc : rest;
}

Result dispatchStagedOrHost(std::vector<CollCall>& calls) {
  std::vector<mixcclComm*> proxied;
  for (const CollCall& c : calls) {
    if ((c.comm->impl->stagedRuntime() != nullptr || needsStaging(c)) &&
        std::find(proxied.begin(), proxied.end(), c.comm) == proxied.end()) {
      proxied.push_back(c.comm);
    }
  }
  if (proxied.empty()) return runHostCalls(calls);
  std::vector<CollCall> here;
  std::map<mixcclComm*, std::vector<CollCall>> byComm;
  for (CollCall& c : calls) {
    if (std::find(proxied.begin(), proxied.end(), c.comm) != proxied.end()) {
      byComm[c.comm].push_back(std::move(c));
    } else {
      here.push_back(std::move(c));
    }
  }
  Result first = mixcclSuccess;
  for (mixcclComm* comm : proxied) {
    Result r = launchThroughProxy(comm, std::move(byComm[comm]));
    if (first == mixcclSuccess) first = r;
  }
  if (!here.empty()) {
    Result r = runHostCalls(here);
    if (first == mixcclSuccess) first = r;
  }
  return first;
}

Result runInits(std::vector<std::function<Result()>>& inits) {
  if (inits.size() == 1) return inits[0]();
  std::vector<Result> results(inits.size(), mixcclSuccess);
  std::vector<std::string> messages(inits.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < inits.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = inits[i]();
      messages[i] = lastErrorMessage();
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < inits.size(); ++i) {
    if (results[i] != mixcclSuccess) {
      setLastErrorMessage(messages[i]);  // logged already, on the init's thread
      return results[i];
    }
  }
  return mixcclSuccess;
}

}  // namespace

bool inGroup() { return tGroup.depth > 0; }

void groupStart() { ++tGroup.depth; }

Result groupEnd() {
  if (tGroup.depth == 0) return fail(mixcclInvalidUsage, "mixcclGroupEnd without a matching mixcclGroupStart");
  if (--tGroup.depth > 0) return mixcclSuccess;
  std::vector<std::function<Result()>> inits;
  inits.swap(tGroup.inits);
  std::vector<CollCall> calls;
  calls.swap(tGroup.calls);
  if (!inits.empty()) MIXCCL_TRY(runInits(inits));
  if (calls.empty()) return mixcclSuccess;
  return dispatch(calls);
}

Result launchOrDefer(const CollCall& call) {
  if (inGroup()) {
    tGroup.calls.push_back(call);
    return mixcclSuccess;
  }
  const bool proxied = call.comm->impl->stagedRuntime() != nullptr || needsStaging(call) || viaGpuIpc(call) ||
                       viaSingleRankCopy(call);
  // (A collective through the shared segment takes its pieces in runHostCalls, on a rank without a GPU.)
  if (!proxied && static_cast<int>(call.args.type) < kNumCollTypes && !viaShared(*call.comm->impl, call)) {
    return call.comm->impl->runNow(call.args, call.send, call.recv);
  }
  std::vector<CollCall> one{call};
  return dispatch(one);
}

void deferInit(std::function<Result()> init) { tGroup.inits.push_back(std::move(init)); }

}  // namespace mixccl

#include "core/group.h"

#include <map>
#include <thread>
#include <vector>

#include "core/log.h"

namespace mixccl {
namespace {

struct GroupState {
  int depth = 0;
  std::vector<CollCall> calls;
  std::vector<std::function<Result()>> inits;
};

thread_local GroupState tGroup;

// Runs the calls: per communicator in order, communicators concurrently.
Result runCalls(std::vector<CollCall>& calls) {
  std::map<mixcclComm*, std::vector<PreparedOp>> byComm;
  std::vector<mixcclComm*> order;
  for (const CollCall& c : calls) {
    auto& ops = byComm[c.comm];
    if (ops.empty()) order.push_back(c.comm);
    ops.emplace_back();
    Result res = c.comm->impl->prepare(c.args, c.send, c.recv, &ops.back());
    if (res != mixcclSuccess) {
      c.comm->impl->setAsyncError(res);
      return res;
    }
  }
  std::vector<ActiveOp> active;
  for (mixcclComm* comm : order) active.push_back(comm->impl->activeOp(byComm[comm]));
  WaitPolicy policy = order.front()->impl->waitPolicy();
  for (mixcclComm* comm : order) {
    policy.timeoutSec = std::min(policy.timeoutSec, comm->impl->waitPolicy().timeoutSec);
  }
  Result res = runToCompletion(active, policy);
  if (res != mixcclSuccess) {
    for (size_t i = 0; i < order.size(); ++i) {
      if (!opDone(active[i])) order[i]->impl->setAsyncError(res);
    }
  }
  return res;
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
  return runCalls(calls);
}

Result launchOrDefer(const CollCall& call) {
  if (inGroup()) {
    tGroup.calls.push_back(call);
    return mixcclSuccess;
  }
  return call.comm->impl->runNow(call.args, call.send, call.recv);
}

void deferInit(std::function<Result()> init) { tGroup.inits.push_back(std::move(init)); }

}  // namespace mixccl

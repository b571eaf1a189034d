#include "engine/wait_loop.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/log.h"

namespace mixccl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kSleepSliceNs = 20'000'000;  // 20 ms: how often a sleeping rank checks its peers' liveness
// While a step waits for its GPU work: spin this long after the last progress, then nap this long between polls.
constexpr auto kDeviceSpin = std::chrono::microseconds(50);
constexpr auto kDeviceNap = std::chrono::microseconds(20);
// How long a rank that finds a peer gone waits for that peer's abort notice, which may still be on its way (a
// loaded host can run the peer's exit before this rank has read the notice the peer sent first).
constexpr auto kNoticeGrace = std::chrono::milliseconds(200);

// One pass over all ops: advance each that is not done. Sets *allDone and *progressed.
Result advanceAll(std::vector<ActiveOp>& ops, bool* progressed, bool* allDone) {
  *progressed = false;
  *allDone = true;
  for (ActiveOp& op : ops) {
    while (!opDone(op)) {
      bool p = false;
      MIXCCL_TRY(op.chain[op.current]->advance(&p));
      *progressed |= p;
      if (!op.chain[op.current]->done()) break;
      ++op.current;
      *progressed = true;
    }
    *allDone &= opDone(op);
  }
  return mixcclSuccess;
}

// Whether an op waits for work on a GPU (engine/step_device.h), which no transport event announces.
bool anyDeviceBusy(const std::vector<ActiveOp>& ops) {
  for (const ActiveOp& op : ops) {
    if (!opDone(op) && op.chain[op.current]->deviceBusy()) return true;
  }
  return false;
}

// The culprit of an abort notice any of `op`'s transports received, or -1.
int abortCulprit(const ActiveOp& op) {
  for (Transport* t : op.transports) {
    int culprit = t->abortNotice();
    if (culprit >= 0) return culprit;
  }
  return -1;
}

// abortCulprit, waiting up to kNoticeGrace (the transports progress on every look) for a notice to arrive.
int awaitAbortCulprit(const ActiveOp& op) {
  const auto until = Clock::now() + kNoticeGrace;
  for (;;) {
    const int culprit = abortCulprit(op);
    if (culprit >= 0 || Clock::now() >= until) return culprit;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Fails because of `culprit`, after passing the notice on to every peer: a rank that learnt of the failure tells
// the others before it leaves, so no one mistakes its own exit for the cause.
Result failForNotice(const ActiveOp& op, OpRunner* exec, const char* coll, int culprit) {
  for (Transport* t : op.transports) t->notifyAbort(culprit);
  return failf(mixcclRemoteError, "%s on rank %d: the communicator failed because rank %d was lost or aborted "
               "(reported by a peer); %s", coll, op.rank, culprit, exec->waitingFor().c_str());
}

// Liveness and abort notices for the peers the unfinished ops are blocked on.
Result checkHealth(std::vector<ActiveOp>& ops) {
  for (ActiveOp& op : ops) {
    if (opDone(op)) continue;
    OpRunner* exec = op.chain[op.current];
    const char* coll = op.collectives[op.current];
    int culprit = abortCulprit(op);
    if (culprit >= 0) return failForNotice(op, exec, coll, culprit);
    std::vector<int> peers;
    exec->blockedPeers(&peers);
    for (int peer : peers) {
      Transport* t = (*op.routes)[peer];
      std::string why;
      if (t->checkPeer(peer, &why) == mixcclSuccess && !(op.peerGone && op.peerGone(peer, &why))) continue;
      // A peer that failed because of another rank posted a notice before it exited: that rank is the cause.
      culprit = awaitAbortCulprit(op);
      if (culprit >= 0) return failForNotice(op, exec, coll, culprit);
      // Tell everybody else first, so they fail fast naming the same culprit.
      for (Transport* other : op.transports) other->notifyAbort(peer);
      return failf(mixcclRemoteError, "%s on rank %d: lost peer rank %d: %s; %s", coll, op.rank, peer, why.c_str(),
                   exec->waitingFor().c_str());
    }
  }
  return mixcclSuccess;
}

}  // namespace

Result runToCompletion(std::vector<ActiveOp>& ops, const WaitPolicy& policy) {
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(policy.timeoutSec));
  const auto healthEvery = std::chrono::nanoseconds(kSleepSliceNs);
  // The transports to sleep on (one op: its own list, no allocation on this per-call path).
  std::vector<Transport*> merged;
  if (ops.size() > 1) {
    for (ActiveOp& op : ops) merged.insert(merged.end(), op.transports.begin(), op.transports.end());
    std::sort(merged.begin(), merged.end());
    merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  }
  const std::vector<Transport*>& transports = ops.size() > 1 ? merged : ops[0].transports;
  uint32_t tokenBuf[8];
  std::vector<uint32_t> tokenVec;
  uint32_t* tokens = tokenBuf;
  if (transports.size() > 8) {
    tokenVec.resize(transports.size());
    tokens = tokenVec.data();
  }

  // The clock is read only on the way to sleep: progress in between is remembered by a flag.
  auto lastProgress = Clock::now();
  auto lastHealth = lastProgress;
  bool progressed = false, done = false, progressSinceSleep = false;
  for (;;) {
    MIXCCL_TRY(advanceAll(ops, &progressed, &done));
    if (done) return mixcclSuccess;
    if (progressed) {
      progressSinceSleep = true;
      continue;
    }
    // Nothing can run: read the event tokens, re-check, then sleep on them (no lost wake-up).
    for (size_t i = 0; i < transports.size(); ++i) tokens[i] = transports[i]->eventToken();
    MIXCCL_TRY(advanceAll(ops, &progressed, &done));
    if (done) return mixcclSuccess;
    if (progressed) {
      progressSinceSleep = true;
      continue;
    }
    if (policy.cancelled != nullptr && policy.cancelled->load(std::memory_order_relaxed)) {
      for (ActiveOp& op : ops) {
        if (!opDone(op)) {
          return failf(mixcclRemoteError, "%s on rank %d: aborted by this rank (communicator abort)",
                       op.collectives[op.current], op.rank);
        }
      }
    }
    auto now = Clock::now();
    if (progressSinceSleep) lastProgress = now;
    progressSinceSleep = false;
    if (now - lastHealth >= healthEvery) {
      lastHealth = now;
      MIXCCL_TRY(checkHealth(ops));
      if (now - lastProgress > timeout) {
        for (ActiveOp& op : ops) {
          if (opDone(op)) continue;
          return failf(mixcclRemoteError,
                       "%s on rank %d timed out after %.1f s without progress: %s (MIXCCL_TIMEOUT)",
                       op.collectives[op.current], op.rank, policy.timeoutSec,
                       op.chain[op.current]->waitingFor().c_str());
        }
      }
    }
    if (anyDeviceBusy(ops)) {
      // The GPU's completion wakes no one: poll, spinning at first, then in naps shorter than a step's kernel.
      if (now - lastProgress < kDeviceSpin) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(kDeviceNap);
      }
    } else if (transports.size() == 1) {
      transports[0]->waitForEvent(tokens[0], kSleepSliceNs);
    } else if (!transports.empty()) {
      // Several transports: no single word to sleep on; take short naps on each in turn.
      for (size_t i = 0; i < transports.size(); ++i) transports[i]->waitForEvent(tokens[i], 100'000);
    } else {
      sched_yield();
    }
  }
}

}  // namespace mixccl

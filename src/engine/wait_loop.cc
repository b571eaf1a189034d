#include "engine/wait_loop.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace mixccl {
namespace {

using Clock = std::chrono::steady_clock;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

constexpr uint64_t kSleepSliceNs = 20'000'000;  // 20 ms: how often a sleeping rank checks its peers' liveness

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

// Liveness and abort notices for the peers the unfinished ops are blocked on.
Result checkHealth(std::vector<ActiveOp>& ops) {
  for (ActiveOp& op : ops) {
    if (opDone(op)) continue;
    Executor* exec = op.chain[op.current];
    const char* coll = op.collectives[op.current];
    for (Transport* t : op.transports) {
      int culprit = t->abortNotice();
      if (culprit >= 0) {
        return failf(mixcclRemoteError, "%s on rank %d: the communicator failed because rank %d was lost or "
                     "aborted (reported by a peer); %s", coll, op.rank, culprit, exec->waitingFor().c_str());
      }
    }
    std::vector<int> peers;
    exec->blockedPeers(&peers);
    for (int peer : peers) {
      Transport* t = (*op.routes)[peer];
      if (t->checkPeer(peer) != mixcclSuccess) {
        // checkPeer logged the death; say where it hit us, and tell everybody else.
        for (Transport* other : op.transports) other->notifyAbort(peer);
        return failf(mixcclRemoteError, "%s on rank %d: lost peer rank %d; %s", coll, op.rank, peer,
                     exec->waitingFor().c_str());
      }
    }
  }
  return mixcclSuccess;
}

}  // namespace

Result runToCompletion(std::vector<ActiveOp>& ops, const WaitPolicy& policy) {
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(policy.timeoutSec));
  const auto spin = std::chrono::microseconds(policy.spinUs);
  auto lastProgress = Clock::now();
  bool progressed = false, done = false;
  for (;;) {
    MIXCCL_TRY(advanceAll(ops, &progressed, &done));
    if (done) return mixcclSuccess;
    if (progressed) {
      lastProgress = Clock::now();
      continue;
    }
    auto now = Clock::now();
    if (now - lastProgress < spin) {
      cpuRelax();
      continue;
    }
    // Sleep: read the event tokens first, re-check, then wait on them (no lost wake-up).
    std::vector<Transport*> transports;
    for (ActiveOp& op : ops) {
      if (!opDone(op)) transports.insert(transports.end(), op.transports.begin(), op.transports.end());
    }
    std::sort(transports.begin(), transports.end());
    transports.erase(std::unique(transports.begin(), transports.end()), transports.end());
    std::vector<uint32_t> tokens;
    for (Transport* t : transports) tokens.push_back(t->eventToken());
    MIXCCL_TRY(advanceAll(ops, &progressed, &done));
    if (done) return mixcclSuccess;
    if (progressed) {
      lastProgress = Clock::now();
      continue;
    }
    MIXCCL_TRY(checkHealth(ops));
    if (Clock::now() - lastProgress > timeout) {
      for (ActiveOp& op : ops) {
        if (opDone(op)) continue;
        return failf(mixcclRemoteError, "%s on rank %d timed out after %.1f s without progress: %s (MIXCCL_TIMEOUT)",
                     op.collectives[op.current], op.rank, policy.timeoutSec,
                     op.chain[op.current]->waitingFor().c_str());
      }
    }
    if (transports.size() == 1) {
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

#pragma once
// Drives executors to completion on the calling thread: poll, spin briefly, then sleep until a peer posts (or,
// while an executor waits for its GPU work, poll without sleeping).
//
// Contract: returns mixcclSuccess once every executor is done. It gives up, with one logged error naming the
// rank, the collective, the step and the peer, when (a) a peer the executors wait for has died
// (mixcclRemoteError; every other rank is told through notifyAbort so they fail fast too), (b) a peer reported
// that the communicator failed (mixcclRemoteError naming the culprit), or (c) no executor progressed for
// `timeoutSec` (mixcclRemoteError "timed out"), (d) the policy's cancel flag is set (mixcclRemoteError "aborted").
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"

namespace mixccl {

// How long to wait. Spinning before sleeping is the transport's business (waitForEvent spins adaptively, and not
// at all when ranks outnumber cores), so the loop itself polls only once before it hands over.
struct WaitPolicy {
  double timeoutSec = 300;
  // When set and true, a wait gives up at once (mixcclRemoteError "aborted"): this rank's communicator is being
  // aborted from another thread.
  const std::atomic<bool>* cancelled = nullptr;
};

// The ops of one communicator, run one after the other (they share channels, so they must not interleave);
// ops of different communicators run concurrently.
struct ActiveOp {
  std::vector<OpRunner*> chain;  // run in order
  size_t current = 0;            // index of the executor running now
  std::vector<const char*> collectives;  // name of each chain entry, for messages
  int rank = 0;
  // routes[peer]: the transport reaching peer (shared with the executor).
  const std::vector<Transport*>* routes = nullptr;
  // The transports this op may sleep on.
  std::vector<Transport*> transports;
  // Optional second opinion on a peer the op waits for, from outside the transports (the communicator's control
  // connections): true with *why if it is gone. Catches deaths a transport cannot see (e.g. tcp receives).
  std::function<bool(int peer, std::string* why)> peerGone;
};

inline bool opDone(const ActiveOp& op) { return op.current >= op.chain.size(); }

// Runs all ops until they are done. On error, the ops that are not done stay undone; the first error is returned.
Result runToCompletion(std::vector<ActiveOp>& ops, const WaitPolicy& policy);

}  // namespace mixccl

#pragma once
// Group calls (mixcclGroupStart/End) and the launch of collectives.
//
// Outside a group a collective runs at once, on the calling thread, and completes before the call returns (host
// memory). Inside a group, collectives and communicator inits are deferred to the outermost GroupEnd, which
// first runs the deferred inits (in parallel threads, so one thread may init several ranks of one communicator)
// and then all deferred collectives: those of one communicator in issue order, different communicators
// concurrently (interleaved on this thread). Group state is per thread.
#include <functional>

#include "core/communicator.h"

namespace mixccl {

struct CollCall {
  mixcclComm* comm = nullptr;
  CollArgs args;
  const void* send = nullptr;
  void* recv = nullptr;
};

bool inGroup();
void groupStart();
// Closes one nesting level; at the outermost level runs what was deferred. Errors: the first one hit.
Result groupEnd();

// Runs `call` now, or defers it when inside a group.
Result launchOrDefer(const CollCall& call);
// Defers a communicator init to the outermost GroupEnd (precondition: inGroup()).
void deferInit(std::function<Result()> init);

}  // namespace mixccl

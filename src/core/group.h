#pragma once
// Group calls (mixcclGroupStart/End) and the launch of collectives.
//
// Outside a group a collective runs at once, on the calling thread, and completes before the call returns (host
// memory); calls on GPU buffers, and every later call of their communicator, go through that communicator's proxy
// thread instead, stream-ordered (core/device_launch.h). Inside a group, collectives and communicator inits are
// deferred to the outermost GroupEnd, which first runs the deferred inits (in parallel threads, so one thread may init
// several ranks of one communicator) and then all deferred calls, interleaved on this thread: the collectives of one
// communicator in issue order; its sends to one peer in order, its receives from one peer in order, each such stream
// concurrently with the others (so a group of sends and receives cannot deadlock on full FIFOs); different
// communicators concurrently. A send to oneself is matched with the receive from oneself of the same position and done
// as a copy. Group state is per thread.
#include <functional>
#include <memory>
#include <optional>

#include "core/communicator.h"
#include "core/pre_mul_sum.h"

namespace mixccl {

class DeviceSteps;

// One call: a collective (args.type < kNumCollTypes) or a point-to-point send/receive (args.type kSend/kRecv,
// with `peer`; a send reads `send`, a receive writes `recv`).
struct CollCall {
  mixcclComm* comm = nullptr;
  CollArgs args;
  const void* send = nullptr;
  void* recv = nullptr;
  int peer = -1;
  std::shared_ptr<char[]> owned;  // a temporary `send` points into (pre-mul-sum's scaled input), kept until done
  void* stream = nullptr;          // the user's stream (used for GPU buffers)
  MemoryType sendMem = MemoryType::kHost;  // where `send` / `recv` live, as queried at the call
  MemoryType recvMem = MemoryType::kHost;
  int device = -1;                         // the GPU of the call's device buffers (-1: none)
  int sendDevice = -1, recvDevice = -1;    // the GPU of `send` / `recv` (-1: host memory)
  // A pre-mul-sum left to the staged path (its input, or its scalar, is on a GPU): applied to the staged input.
  std::optional<PreMulSumOp> scale;
  MemoryType scalarMem = MemoryType::kHost;  // where scale->pointer lives (if it is set)
  // Set when the staged path runs the call with device steps (core/device_steps.h): the executor works on the
  // device buffers, its arithmetic on the GPU.
  DeviceSteps* deviceSteps = nullptr;
  // The first piece of a collective that runs through the shared segment (core/shared_launch.h), reserved when it
  // was handed to the proxy; ~0 for every other call.
  uint64_t sharedPiece = ~uint64_t(0);
};

bool inGroup();
void groupStart();
// Closes one nesting level; at the outermost level runs what was deferred. Errors: the first one hit.
Result groupEnd();

// Runs `call` now, or defers it when inside a group.
Result launchOrDefer(const CollCall& call);
// Runs `calls` (host pointers only) on this thread to completion, interleaved as described above.
Result runHostCalls(std::vector<CollCall>& calls);
// Defers a communicator init to the outermost GroupEnd (precondition: inGroup()).
void deferInit(std::function<Result()> init);

}  // namespace mixccl

#pragma once
// Calls of several communicators on ONE stream in a group (issue 5): one thread drives several ranks of one GPU
// (the communicators of mixcclCommInitAll on one device, say, all on the default stream). Enqueued one after another
// on that stream, each rank's collective would wait there for the other ranks' parts, which queue behind it: a
// hang (gpu_ipc), or a time-out (the staged path). So before the group launches anything, every stream S that GPU
// calls of two or more communicators share is forked: each of those communicators gets a stream of its own (its
// ForkStream), which first waits for the work queued on S so far, and its calls on S move there. Once every call is
// launched, S waits for each of those streams (the join). Later work on S thus sees every call's result, as if they
// had run on S, while the ranks' parts run side by side as on streams of their own.
//
// Contract: a ForkStream belongs to one communicator (Communicator::forkStream) and is used by the thread that uses
// that communicator. forkSharedStreams() runs on the thread that ends the group, before any of its calls is
// launched; joinForks() after they were launched (or failed to be), with what forkSharedStreams() returned.
#include <memory>
#include <vector>

#include "core/group.h"
#include "core/status.h"
#include "device/gpu_backend.h"

namespace mixccl {

class ForkStream {
 public:
  // A stream and two events on `device` of `gpu`.
  static Result create(GpuBackend* gpu, int device, std::unique_ptr<ForkStream>* out);
  // Waits (bounded) until the work of the last join is done, then frees the stream and the events; past the bound
  // they stay allocated, with a warning (the GPU may still use them).
  ~ForkStream();
  ForkStream(const ForkStream&) = delete;
  ForkStream& operator=(const ForkStream&) = delete;

  void* stream() const { return stream_; }
  int device() const { return device_; }
  // This stream's later work waits for the work queued on `shared` so far.
  Result forkFrom(void* shared);
  // The later work of `shared` waits for the work queued on this stream so far.
  Result joinInto(void* shared);

 private:
  ForkStream() = default;
  GpuBackend* gpu_ = nullptr;
  int device_ = -1;
  void* stream_ = nullptr;
  void* forked_ = nullptr;  // recorded on the shared stream
  void* joined_ = nullptr;  // recorded on this stream
  bool everJoined_ = false;
};

// One join for joinForks(): `shared` waits for `own`.
struct StreamJoin {
  ForkStream* own = nullptr;
  void* shared = nullptr;
};

// Moves the GPU calls (those with a buffer or scalar in device memory) of every stream that GPU calls of two or
// more communicators share onto those communicators' fork streams (creating them), after forking each from that
// stream. *joins: what joinForks() must enqueue once the calls are launched. On error nothing is launched, and
// the forks made so far need no join (their streams only wait).
Result forkSharedStreams(std::vector<CollCall>& calls, std::vector<StreamJoin>* joins);
// Enqueues every join (also after an error); returns the first error.
Result joinForks(const std::vector<StreamJoin>& joins);

}  // namespace mixccl

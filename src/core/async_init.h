#pragma once
// A communicator init running on a background thread (config.blocking = 0).
//
// Contract: start() launches `create` on a detached thread and returns at once. The API thread polls running()
// (non-blocking) or calls wait(). abandon() hands what the init builds to the thread itself, which frees it (after
// telling the peers it is leaving, for an abort) when the init ends; the caller never waits for it. The object is
// shared by the API handle and the thread, so whichever lets go last frees it. Thread-safe.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/communicator.h"

namespace mixccl {

class AsyncInit {
 public:
  // Builds the communicator (may leave *out null, e.g. a split with no color).
  using Create = std::function<Result(std::unique_ptr<Communicator>*)>;

  static std::shared_ptr<AsyncInit> start(Create create);

  // True while the init thread has not finished.
  bool running();
  // Waits for the end of the init; returns its result, with its message as this thread's last error on failure,
  // and moves the communicator into *out on success.
  Result wait(std::unique_ptr<Communicator>* out);
  // Gives up the result: the thread frees the communicator when the init ends (abort: notifies peers first).
  void abandon(bool abort);

 private:
  void finish(Result result, std::string message, std::unique_ptr<Communicator> comm);

  std::mutex mutex_;
  std::condition_variable doneCv_;
  bool done_ = false;
  bool abandoned_ = false;
  bool abortOnEnd_ = false;
  Result result_ = mixcclInProgress;
  std::string message_;
  std::unique_ptr<Communicator> comm_;
};

}  // namespace mixccl

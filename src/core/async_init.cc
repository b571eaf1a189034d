#include "core/async_init.h"

#include <thread>

namespace mixccl {

std::shared_ptr<AsyncInit> AsyncInit::start(Create create) {
  auto self = std::make_shared<AsyncInit>();
  std::thread([self, create = std::move(create)] {
    std::unique_ptr<Communicator> comm;
    Result res = create(&comm);
    self->finish(res, res == mixcclSuccess ? std::string() : std::string(lastErrorMessage()), std::move(comm));
  }).detach();
  return self;
}

void AsyncInit::finish(Result result, std::string message, std::unique_ptr<Communicator> comm) {
  std::unique_ptr<Communicator> orphan;
  bool abort = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = result;
    message_ = std::move(message);
    if (abandoned_) {
      orphan = std::move(comm);
      abort = abortOnEnd_;
    } else {
      comm_ = std::move(comm);
    }
    done_ = true;
  }
  doneCv_.notify_all();
  if (orphan && abort) orphan->notifyAbort();
  // `orphan` (if any) is freed here, on the init thread.
}

bool AsyncInit::running() {
  std::lock_guard<std::mutex> lock(mutex_);
  return !done_;
}

Result AsyncInit::wait(std::unique_ptr<Communicator>* out) {
  std::unique_lock<std::mutex> lock(mutex_);
  doneCv_.wait(lock, [this] { return done_; });
  if (result_ != mixcclSuccess) {
    setLastErrorMessage(message_);  // logged on the init thread already
    return result_;
  }
  *out = std::move(comm_);
  return mixcclSuccess;
}

void AsyncInit::abandon(bool abort) {
  std::unique_ptr<Communicator> built;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    abandoned_ = true;
    abortOnEnd_ = abort;
    if (!done_) return;
    built = std::move(comm_);
  }
  if (built && abort) built->notifyAbort();
}

}  // namespace mixccl

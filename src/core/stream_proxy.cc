#include "core/stream_proxy.h"

#include <chrono>

#include "core/log.h"

namespace mixccl {
namespace {

// Polling an event: spin this long, then nap between looks (the input copies of a large buffer take a while).
constexpr auto kSpinFor = std::chrono::microseconds(50);
constexpr auto kNap = std::chrono::microseconds(20);

}  // namespace

StreamProxy::StreamProxy(GpuBackend* gpu, uint32_t* flagWord, double timeoutSec)
    : gpu_(gpu), flag_(flagWord), timeoutSec_(timeoutSec) {
  __atomic_store_n(flag_, 0u, __ATOMIC_RELEASE);
  thread_ = std::thread([this] { loop(); });
}

StreamProxy::~StreamProxy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (const std::string& line : timing_.lines()) MIXCCL_LOG(kInfo, "staged jobs of %s", line.c_str());
}

uint64_t StreamProxy::submit(Job job, uint32_t* ticket) {
  uint64_t place = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    *ticket = ++nextTicket_;
    place = ++submitted_;
    queue_.emplace_back(*ticket, std::move(job));
  }
  cv_.notify_all();
  return place;
}

Result StreamProxy::waitFor(uint32_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return static_cast<int32_t>(doneTicket_ - ticket) >= 0; });
  auto it = results_.find(ticket);
  Result res = it != results_.end() ? it->second : mixcclSuccess;
  if (it != results_.end()) results_.erase(it);
  return res;
}

void StreamProxy::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && doneTicket_ == nextTicket_; });
}

void StreamProxy::cancel() {
  cancelled_.store(true);
  cv_.notify_all();
}

Result StreamProxy::waitInputs(const Job& job) {
  const auto start = std::chrono::steady_clock::now();
  for (void* event : job.inputsReady) {
    for (;;) {
      bool done = false;
      MIXCCL_TRY(gpu_->eventQuery(event, &done));
      if (done) break;
      if (cancelled_.load()) {
        return fail(mixcclRemoteError, "stream proxy: the communicator was aborted while a collective waited for "
                    "its inputs on the stream");
      }
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > std::chrono::duration<double>(timeoutSec_)) {
        return failf(mixcclRemoteError, "stream proxy: the inputs of a collective were not ready on the user's stream "
                     "after %.1f s (MIXCCL_TIMEOUT): is the stream blocked?", timeoutSec_);
      }
      if (waited > kSpinFor) std::this_thread::sleep_for(kNap);
    }
  }
  return mixcclSuccess;
}

void StreamProxy::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    auto [ticket, job] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    const Result inputs = waitInputs(job);
    const auto landed = std::chrono::steady_clock::now();
    Result res = job.run(inputs, cancelled_);
    const auto ran = std::chrono::steady_clock::now();
    if (!job.inputsReady.empty()) {  // a staged job (not one of host buffers only, as the perf tools' barriers)
      timing_.add(job.bytes, std::chrono::duration<double, std::micro>(landed - start).count(),
                  std::chrono::duration<double, std::micro>(ran - landed).count());
    }
    // The job's host writes (staged results) happen before the flag: a stream that sees the flag reads them.
    __atomic_store_n(flag_, ticket, __ATOMIC_RELEASE);
    completed_.fetch_add(1, std::memory_order_release);
    lock.lock();
    doneTicket_ = ticket;
    if (job.keepResult) results_[ticket] = res;
    cv_.notify_all();
  }
}

}  // namespace mixccl

#include "device/deferred_free.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

namespace mixccl {
namespace {

thread_local int deferDepth = 0;
std::atomic<bool> exiting{false};

struct Free {
  GpuBackend* gpu;
  GpuFreeKind kind;
  void* ptr;
  int device;  // made current for the free; -1: whichever is
};

// With `drainFirst`, waits for the device to drain before the free: a free waits so too, but holds up every other
// thread's launches and allocations while it does (the driver's lock; device/deferred_free.h), which a plain
// synchronisation does not. A stream held for good then holds up only this thread.
void freeNow(const Free& f, bool drainFirst) {
  int previous = -1;
  const bool switched = f.device >= 0 && f.gpu->currentDevice(&previous) == mixcclSuccess && previous != f.device &&
                        f.gpu->setDevice(f.device) == mixcclSuccess;
  // Closing an imported mapping waits for no stream. A failure is logged by the backend; the free then says its own.
  if (drainFirst && f.kind != GpuFreeKind::kImported) f.gpu->deviceSynchronize();
  switch (f.kind) {
    case GpuFreeKind::kDevice:
      f.gpu->freeDevice(f.ptr);
      break;
    case GpuFreeKind::kPinned:
      f.gpu->freePinned(f.ptr);
      break;
    case GpuFreeKind::kImported:
      f.gpu->ipcClose(f.ptr);
      break;
  }
  if (switched) f.gpu->setDevice(previous);
}

// The background thread and its queue. Allocated once and never destroyed: the thread may still wait inside a free
// when the process exits, and must not find its queue gone.
class Releaser {
 public:
  // Built at the first hand-off.
  static Releaser& get() {
    static Releaser* const instance = [] {
      auto* r = new Releaser();
      built.store(r, std::memory_order_release);
      return r;
    }();
    return *instance;
  }
  // nullptr until something was handed off.
  static Releaser* existing() { return built.load(std::memory_order_acquire); }
  void handOff(const Free& f) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    queue_.push_back(f);
    ++handedOff_;
    cv_->notify_all();
  }
  bool waitDone(double timeoutSec) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = handedOff_;
    return cv_->wait_for(lock, std::chrono::duration<double>(timeoutSec), [&] { return made_ >= target; });
  }

 private:
  Releaser() {
    std::atexit([] { exiting.store(true); });
    // Around a fork: no thread holds the lock while the address space is copied; the child has no background thread
    // (it starts one at its first hand-off) and none of the parent's pending frees. Its copy of the condition
    // variable still counts the parent's waiting thread, which the child does not have (a broadcast would wait for it
    // for ever): a new one takes its place, the old one left as it is.
    pthread_atfork([] { get().mu_.lock(); }, [] { get().mu_.unlock(); },
                   [] {
                     Releaser& r = get();
                     r.queue_.clear();
                     r.started_ = false;
                     r.made_ = r.handedOff_;
                     r.cv_ = new std::condition_variable();
                     r.mu_.unlock();
                   });
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_->wait(lock, [&] { return !queue_.empty(); });
      const Free f = queue_.front();
      queue_.pop_front();
      lock.unlock();
      if (!exiting.load()) freeNow(f, /*drainFirst=*/true);
      lock.lock();
      ++made_;
      cv_->notify_all();
    }
  }
  static inline std::atomic<Releaser*> built{nullptr};
  std::mutex mu_;
  std::condition_variable* cv_ = new std::condition_variable();  // replaced in a fork's child, never deleted
  std::deque<Free> queue_;
  bool started_ = false;
  uint64_t handedOff_ = 0;
  uint64_t made_ = 0;
};

}  // namespace

void freeGpuMemory(GpuBackend* gpu, GpuFreeKind kind, void* ptr, int device) {
  if (ptr == nullptr) return;
  if (deferDepth == 0) {
    freeNow(Free{gpu, kind, ptr, device}, /*drainFirst=*/false);
    return;
  }
  if (device < 0 && gpu->currentDevice(&device) != mixcclSuccess) device = -1;
  Releaser::get().handOff(Free{gpu, kind, ptr, device});
}

DeferGpuFrees::DeferGpuFrees() { ++deferDepth; }
DeferGpuFrees::~DeferGpuFrees() { --deferDepth; }

bool waitForDeferredGpuFrees(double timeoutSec) {
  Releaser* r = Releaser::existing();
  return r == nullptr || r->waitDone(timeoutSec);
}

}  // namespace mixccl

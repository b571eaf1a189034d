#include "device/deferred_free.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace mixccl {
namespace {

thread_local int deferDepth = 0;

struct Free {
  GpuBackend* gpu;
  GpuFreeKind kind;
  void* ptr;
  int device;  // current at the hand-off; -1 where unknown
};

void freeNow(GpuBackend* gpu, GpuFreeKind kind, void* ptr) {
  switch (kind) {
    case GpuFreeKind::kDevice:
      gpu->freeDevice(ptr);
      break;
    case GpuFreeKind::kPinned:
      gpu->freePinned(ptr);
      break;
    case GpuFreeKind::kRegistered:
      gpu->hostUnregister(ptr);
      break;
    case GpuFreeKind::kImported:
      gpu->ipcClose(ptr);
      break;
  }
}

// The background thread and its queue. Allocated once and never destroyed: the thread may still wait inside a free
// when the process exits, and must not find its queue gone.
class Releaser {
 public:
  static Releaser& get() {
    static Releaser* const instance = new Releaser();
    return *instance;
  }
  void handOff(const Free& f) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    queue_.push_back(f);
    ++handedOff_;
    cv_.notify_all();
  }
  bool waitDone(double timeoutSec) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = handedOff_;
    return cv_.wait_for(lock, std::chrono::duration<double>(timeoutSec), [&] { return made_ >= target; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      const Free f = queue_.front();
      queue_.pop_front();
      lock.unlock();
      if (f.device >= 0) f.gpu->setDevice(f.device);
      freeNow(f.gpu, f.kind, f.ptr);
      lock.lock();
      ++made_;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Free> queue_;
  bool started_ = false;
  uint64_t handedOff_ = 0;
  uint64_t made_ = 0;
};

}  // namespace

void freeGpuMemory(GpuBackend* gpu, GpuFreeKind kind, void* ptr) {
  if (ptr == nullptr) return;
  if (deferDepth == 0) {
    freeNow(gpu, kind, ptr);
    return;
  }
  int device = -1;
  if (gpu->currentDevice(&device) != mixcclSuccess) device = -1;
  Releaser::get().handOff(Free{gpu, kind, ptr, device});
}

DeferGpuFrees::DeferGpuFrees() { ++deferDepth; }
DeferGpuFrees::~DeferGpuFrees() { --deferDepth; }

bool waitForDeferredGpuFrees(double timeoutSec) { return Releaser::get().waitDone(timeoutSec); }

}  // namespace mixccl

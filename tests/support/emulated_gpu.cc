#include "support/emulated_gpu.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "core/status.h"
#include "device/kernels/gpu_kernels.h"
#include "device/kernels/host_step_check.h"
#include "support/device_memory_guard.h"

namespace mixccl::testing {
namespace {

// An event's counters, shared with the stream operations that record or wait for it: as CUDA's, an event destroyed
// while such an operation is still queued goes only once the operation has run (its handle is invalid at once).
struct EventState {
  std::atomic<uint64_t> recorded{0};   // records issued
  std::atomic<uint64_t> completed{0};  // records the stream has reached
};
struct Event {
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
};

std::shared_ptr<EventState> stateOf(void* e) { return static_cast<Event*>(e)->state; }

// Whether [p, p + bytes) lies inside one range of `m` (base -> bytes).
bool within(const std::map<uintptr_t, size_t>& m, uintptr_t p, size_t bytes) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  return p + bytes <= it->first + it->second;
}

void napUntil(const std::function<bool()>& ready) {
  while (!ready()) std::this_thread::sleep_for(std::chrono::microseconds(10));
}

}  // namespace

// One stream: a thread that runs the operations queued on it, in order. With emulated hardware queues, operations
// reach it through its queue (below).
class EmulatedGpu::Stream {
 public:
  explicit Stream(unsigned delayUs) : delayUs_(delayUs), thread_([this] { loop(); }) {}
  ~Stream() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Enqueues `op`; `blocks`: it is a wait that holds its hardware queue until it passes.
  void submit(std::function<void()> op, bool blocks = false);
  void setQueue(HardwareQueue* queue) { queue_ = queue; }
  // Runs `op` after every operation handed to this stream's thread so far.
  void push(std::function<void()> op) {
    std::lock_guard<std::mutex> lock(mu_);  // notified under it: once it is released the stream may be deleted
    queue_ops_.push_back(std::move(op));
    cv_.notify_all();
  }
  // Nothing queued and nothing running (ops still in its hardware queue count as queued).
  bool idle() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_ops_.empty() && !running_ && inHardwareQueue_ == 0;
  }
  // This stream's thread has nothing to run (whatever its hardware queue still holds for it).
  bool threadIdle() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_ops_.empty() && !running_;
  }
  void countInHardwareQueue(int delta) {
    std::lock_guard<std::mutex> lock(mu_);
    inHardwareQueue_ += delta;
  }
  // push(), for an op its hardware queue counted (countInHardwareQueue(1)) and now hands on.
  void pushFromQueue(std::function<void()> op) {
    std::lock_guard<std::mutex> lock(mu_);  // as push()
    queue_ops_.push_back(std::move(op));
    --inHardwareQueue_;
    cv_.notify_all();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_ops_.empty(); });
      if (queue_ops_.empty()) return;
      std::function<void()> op = std::move(queue_ops_.front());
      queue_ops_.pop_front();
      running_ = true;
      lock.unlock();
      if (delayUs_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delayUs_));
      device_guard::allowThisThread();  // a thread of the device (again: an op may have called a host entry point)
      op();
      lock.lock();
      running_ = false;
    }
  }
  const unsigned delayUs_;
  HardwareQueue* queue_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ops_;
  bool running_ = false;
  int inHardwareQueue_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// One hardware queue (emulateHardwareQueues): a thread that hands the operations of its streams to them in the order
// they were enqueued, each once its stream's previous one is done, and that waits for a blocking one (a stream wait)
// to pass before it hands on the next. So a wait at its head holds up every stream behind it, as on a GPU whose
// streams outnumber its queues.
class EmulatedGpu::HardwareQueue {
 public:
  HardwareQueue() : thread_([this] { loop(); }) {}
  ~HardwareQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(Stream* stream, std::function<void()> op, bool blocks) {
    stream->countInHardwareQueue(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(Item{stream, std::move(op), blocks});
    }
    cv_.notify_all();
  }

 private:
  struct Item {
    Stream* stream;
    std::function<void()> op;
    bool blocks;
  };
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !items_.empty(); });
      if (items_.empty()) return;
      Item item = std::move(items_.front());
      items_.pop_front();
      lock.unlock();
      napUntil([&] { return item.stream->threadIdle(); });  // it cannot go meanwhile: it counts this op as queued
      // After the hand-over the stream may finish and be destroyed at any time: never touched again here.
      if (item.blocks) {
        auto passed = std::make_shared<std::atomic<bool>>(false);
        item.stream->pushFromQueue([op = std::move(item.op), passed] {
          op();
          passed->store(true);
        });
        napUntil([&] { return passed->load(); });
      } else {
        item.stream->pushFromQueue(std::move(item.op));
      }
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool stop_ = false;
  std::thread thread_;
};

void EmulatedGpu::Stream::submit(std::function<void()> op, bool blocks) {
  if (queue_ == nullptr) {
    push(std::move(op));
  } else {
    queue_->submit(this, std::move(op), blocks);
  }
}

EmulatedGpu::EmulatedGpu(unsigned delayUs, MemoryType vendor)
    : default_(std::make_unique<Stream>(delayUs)), delayUs_(delayUs), vendor_(vendor) {}

EmulatedGpu::~EmulatedGpu() = default;

EmulatedGpu::Stream* EmulatedGpu::resolve(void* stream) {
  device_guard::denyThisThread();  // a host thread: it enqueues work for the device
  return stream == nullptr ? default_.get() : static_cast<Stream*>(stream);
}

void EmulatedGpu::reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) {
  reduceAsync(dst, a, b, count, spec, nullptr);
  streamSynchronize(nullptr);
}
void EmulatedGpu::postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) {
  postOpAsync(dst, src, count, spec, nullptr);
  streamSynchronize(nullptr);
}
void EmulatedGpu::copy(void* dst, const void* src, size_t bytes) {
  copyAsync(dst, src, bytes, nullptr);
  streamSynchronize(nullptr);
}

Result EmulatedGpu::currentDevice(int* out) {
  *out = 0;
  return mixcclSuccess;
}
Result EmulatedGpu::setDevice(int device) {
  if (device != 0) return failf(mixcclInvalidArgument, "emulated gpu: no device %d (there is one)", device);
  return mixcclSuccess;
}

Result EmulatedGpu::queryPointer(const void* ptr, PointerInfo* out) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  auto inside = [p](const std::map<uintptr_t, size_t>& m) { return within(m, p, 1); };
  PointerInfo info;
  if (inside(device_)) {
    info.type = vendor_;
    info.device = 0;
  } else if (inside(pinned_) || inside(registered_)) {
    info.pinned = true;
  }
  *out = info;
  return mixcclSuccess;
}

// Device memory is a shared mapping of a memfd, so that another process can map it (IPC).
Result EmulatedGpu::allocDevice(size_t bytes, void** out) {
  const std::shared_lock<std::shared_mutex> allocating(runtime_);
  const size_t size = (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096;
  int fd = memfd_create("mixccl-emulated-gpu", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, off_t(size)) != 0) {
    if (fd >= 0) close(fd);
    return failf(mixcclSystemError, "emulated gpu: memfd for %zu bytes: %s", bytes, strerror(errno));
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return failf(mixcclSystemError, "emulated gpu: mmap of %zu bytes: %s", size, strerror(errno));
  }
  std::memset(p, 0xA5, size);  // garbage, as fresh device memory is
  if (!device_guard::protect(p, size)) {
    munmap(p, size);
    close(fd);
    return failf(mixcclSystemError, "emulated gpu: guarding %zu bytes of device memory: %s", size, strerror(errno));
  }
  device_guard::denyThisThread();
  std::lock_guard<std::mutex> lock(mu_);
  device_[reinterpret_cast<uintptr_t>(p)] = size;
  fds_[reinterpret_cast<uintptr_t>(p)] = fd;
  *out = p;
  return mixcclSuccess;
}

void EmulatedGpu::synchronizeDevice(const char* call) {
  auto left = std::make_shared<std::atomic<size_t>>(0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Stream*> all(streams_.begin(), streams_.end());
    all.insert(all.end(), retiring_.begin(), retiring_.end());
    all.push_back(default_.get());
    left->store(all.size());
    for (Stream* s : all) s->submit([left] { left->fetch_sub(1); });
  }
  const auto warnAt = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool warned = false;
  napUntil([&] {
    if (!warned && std::chrono::steady_clock::now() > warnAt) {
      warned = true;
      std::fprintf(stderr, "emulated gpu: %s has waited 10 s for every stream to run what was queued before it (a "
                   "GPU's implicit synchronisation): is a stream waiting for something only this thread would do?\n",
                   call);
    }
    return left->load() == 0;
  });
}

Result EmulatedGpu::freeDevice(void* ptr) {
  if (ptr == nullptr) return mixcclSuccess;
  const std::unique_lock<std::shared_mutex> freeing(runtime_);  // for the whole wait (see runtime_)
  synchronizeDevice("freeDevice (cudaFree)");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = device_.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == device_.end() || fds_.count(it->first) == 0) {
    return failf(mixcclInvalidArgument, "emulated gpu: freeDevice(%p) of memory it did not allocate", ptr);
  }
  munmap(ptr, it->second);
  close(fds_[it->first]);
  fds_.erase(it->first);
  device_.erase(it);
  return mixcclSuccess;
}

Result EmulatedGpu::allocPinned(size_t bytes, void** out) {
  const std::shared_lock<std::shared_mutex> allocating(runtime_);
  void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (p == nullptr) return failf(mixcclSystemError, "emulated gpu: out of pinned memory (%zu bytes)", bytes);
  std::lock_guard<std::mutex> lock(mu_);
  pinned_[reinterpret_cast<uintptr_t>(p)] = bytes;
  pinnedBytes_ += bytes;
  if (pinnedBytes_ > peakPinned_.load()) peakPinned_.store(pinnedBytes_);
  *out = p;
  return mixcclSuccess;
}

Result EmulatedGpu::freePinned(void* ptr) {
  if (ptr == nullptr) return mixcclSuccess;
  const std::unique_lock<std::shared_mutex> freeing(runtime_);  // for the whole wait (see runtime_)
  synchronizeDevice("freePinned (cudaFreeHost)");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pinned_.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == pinned_.end()) {
    return failf(mixcclInvalidArgument, "emulated gpu: freePinned(%p) of memory it did not allocate", ptr);
  }
  pinnedBytes_ -= it->second;
  pinned_.erase(it);
  std::free(ptr);
  return mixcclSuccess;
}

Result EmulatedGpu::hostRegister(void* ptr, size_t bytes) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  if (ptr == nullptr || bytes == 0) {
    return failf(mixcclInvalidArgument, "emulated gpu: hostRegister of %zu bytes at %p", bytes, ptr);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  for (const auto* m : {&device_, &pinned_, &registered_}) {
    auto it = m->lower_bound(p);
    const bool overlapsNext = it != m->end() && it->first < p + bytes;
    const bool overlapsPrev = it != m->begin() && std::prev(it)->first + std::prev(it)->second > p;
    if (overlapsNext || overlapsPrev) {
      return failf(mixcclInvalidUsage, "emulated gpu: hostRegister of %p (%zu bytes) overlaps memory the device "
                   "already knows", ptr, bytes);
    }
  }
  registered_[p] = bytes;
  return mixcclSuccess;
}

Result EmulatedGpu::hostUnregister(void* ptr) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  std::lock_guard<std::mutex> lock(mu_);
  if (registered_.erase(reinterpret_cast<uintptr_t>(ptr)) == 0) {
    return failf(mixcclInvalidArgument, "emulated gpu: hostUnregister of %p, which is not registered", ptr);
  }
  return mixcclSuccess;
}

size_t EmulatedGpu::liveHostRegistrations() {
  std::lock_guard<std::mutex> lock(mu_);
  return registered_.size();
}

Result EmulatedGpu::checkKernelAccess(const void* ptr, size_t bytes, const char* what) {
  if (bytes == 0) return mixcclSuccess;
  std::lock_guard<std::mutex> lock(mu_);
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  if (within(device_, p, bytes) || within(pinned_, p, bytes) || within(registered_, p, bytes)) return mixcclSuccess;
  return failf(mixcclInvalidUsage, "emulated gpu: a kernel's %s (%p, %zu bytes) is not device, pinned or registered "
               "host memory (a device would fault)", what, ptr, bytes);
}

Result EmulatedGpu::copyAsync(void* dst, const void* src, size_t bytes, void* stream) {
  if (bytes == 0 || dst == src) return mixcclSuccess;
  ++copyCalls_;
  bool toPageable = false, fromHost = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto known = [this, bytes](const void* ptr) {
      const auto p = reinterpret_cast<uintptr_t>(ptr);
      return within(device_, p, bytes) || within(pinned_, p, bytes) || within(registered_, p, bytes);
    };
    if (!known(dst) || !known(src)) ++pageableCopies_;
    toPageable = !known(dst) && within(device_, reinterpret_cast<uintptr_t>(src), bytes);
    fromHost = within(device_, reinterpret_cast<uintptr_t>(dst), bytes) &&
               !within(device_, reinterpret_cast<uintptr_t>(src), bytes);
  }
  if (toPageable) {
    // Device to pageable memory: done on return, and until then the runtime is held (see runtime_).
    std::unique_lock<std::shared_mutex> held(runtime_);
    std::promise<void> copied;
    std::future<void> done = copied.get_future();
    resolve(stream)->submit([=, &copied] {
      std::memcpy(dst, src, bytes);
      copied.set_value();
    });
    done.wait();
    return mixcclSuccess;
  }
  const unsigned extra = fromHost ? hostToDeviceDelayUs_.load() : 0;
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  resolve(stream)->submit([=] {
    if (extra > 0) std::this_thread::sleep_for(std::chrono::microseconds(extra));
    std::memcpy(dst, src, bytes);
  });
  return mixcclSuccess;
}

Result EmulatedGpu::loadKernels(bool) {
  kernelsLoaded_.store(true);
  return mixcclSuccess;
}

// CUDA's lazy loading: the first launch loads the kernels, and loading waits for the whole device to go idle.
// A real device blocks the launching thread for ever if a stream waits for that thread; here the wait is bounded
// and becomes an error, so a test whose stream is held at its first launch fails instead of hanging.
Result EmulatedGpu::loadOnFirstLaunch() {
  if (kernelsLoaded_.load()) return mixcclSuccess;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    bool idle = default_->idle();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Stream* s : streams_) idle &= s->idle();
    }
    if (idle) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return failf(mixcclInternalError, "emulated gpu: the first kernel launch loads the kernels, which waits for "
                   "every stream to go idle; a stream stayed busy for 5 s (a real device would block here for ever: "
                   "call loadKernels() before a stream can wait on the host or a peer)");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  kernelsLoaded_.store(true);
  return mixcclSuccess;
}

Result EmulatedGpu::copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  MIXCCL_TRY(checkKernelAccess(dst, bytes, "copy destination"));
  MIXCCL_TRY(checkKernelAccess(src, bytes, "copy source"));
  resolve(stream)->submit([=] { kernels::host::launchCopy(dst, src, bytes, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                                void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  const size_t bytes = count * dataTypeSize(spec.dtype);
  MIXCCL_TRY(checkKernelAccess(dst, bytes, "reduce output"));
  MIXCCL_TRY(checkKernelAccess(a, bytes, "reduce input a"));
  MIXCCL_TRY(checkKernelAccess(b, bytes, "reduce input b"));
  ++reduceCalls_;
  resolve(stream)->submit([=] { kernels::host::launchReduce(dst, a, b, count, spec, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  const size_t bytes = count * dataTypeSize(spec.dtype);
  MIXCCL_TRY(checkKernelAccess(dst, bytes, "post-op output"));
  MIXCCL_TRY(checkKernelAccess(src, bytes, "post-op input"));
  resolve(stream)->submit([=] { kernels::host::launchPostOp(dst, src, count, spec, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::reduceNAsync(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                                 void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  const size_t bytes = count * dataTypeSize(spec.dtype);
  MIXCCL_TRY(checkKernelAccess(dst, bytes, "n-input reduce output"));
  for (int i = 0; i < n; ++i) MIXCCL_TRY(checkKernelAccess(srcs[i], bytes, "n-input reduce input"));
  ++reduceNCalls_;
  reduceNElements_ += count;
  std::vector<const void*> in(srcs, srcs + n);
  resolve(stream)->submit([=] { kernels::host::launchReduceN(dst, in.data(), n, count, spec, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::reduceToAllAsync(const uint32_t* const* words, int n, size_t lo, size_t count,
                                     const ReduceSpec& spec, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  ++reduceToAllCalls_;
  std::vector<const uint32_t*> table(words, words + n);
  resolve(stream)->submit([=] { kernels::host::launchReduceToAll(table.data(), n, lo, count, spec, nullptr); });
  return mixcclSuccess;
}

void EmulatedGpu::emulateHardwareQueues(int queues) {
  if (queues <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  firstQueue_ = queues_.size();  // an earlier set stays: its streams still use it
  for (int q = 0; q < queues; ++q) queues_.push_back(std::make_unique<HardwareQueue>());
  if (default_->idle()) {
    default_->setQueue(queues_[firstQueue_].get());
    nextQueue_ = 1;
  } else {
    nextQueue_ = 0;
  }
  activeQueues_.store(queues);
}

int EmulatedGpu::hardwareQueues() const {
  if (activeQueues_.load() > 0) return activeQueues_.load();
  const char* set = std::getenv("CUDA_DEVICE_MAX_CONNECTIONS");
  return set != nullptr && std::atoi(set) > 0 ? std::atoi(set) : 8;
}

Result EmulatedGpu::fusedAsync(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  const size_t bytes = args.count * dataTypeSize(spec.dtype);
  const bool direct = args.kind == kernels::FusedKind::kDirect;
  MIXCCL_TRY(checkKernelAccess(args.send, bytes, "fused input"));
  MIXCCL_TRY(checkKernelAccess(args.recv, bytes, "fused output"));
  if (args.gathered != nullptr) MIXCCL_TRY(checkKernelAccess(args.gathered, sizeof(uint32_t), "fused gathered flag"));
  if (direct) MIXCCL_TRY(checkKernelAccess(args.blocksOut, sizeof(uint64_t), "fused direct block count"));
  for (int r = 0; r < args.n; ++r) {
    MIXCCL_TRY(checkKernelAccess(args.arrive[r], sizeof(uint32_t), "fused arrival flag"));
    if (!direct) {
      MIXCCL_TRY(checkKernelAccess(args.slots[r], bytes, "one-shot slot"));
      continue;
    }
    MIXCCL_TRY(checkKernelAccess(args.words[r], 4 * sizeof(uint32_t), "fused direct address words"));
    MIXCCL_TRY(checkKernelAccess(args.done[r], sizeof(uint32_t), "fused direct done flag"));
  }
  ++(direct ? fusedDirectCalls_ : oneShotCalls_);
  resolve(stream)->submit([=] { kernels::host::launchFused(args, spec, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  MIXCCL_TRY(loadOnFirstLaunch());
  MIXCCL_TRY(checkKernelAccess(queue, sizeof(*queue), "step queue"));
  MIXCCL_TRY(checkKernelAccess(counter, sizeof(*counter), "step counter"));
  ++stepServers_;
  // Each command's operands are checked when the server runs it (the host writes them later).
  resolve(stream)->submit([=, this] {
    kernels::host::hostStepCheck = {&EmulatedGpu::checkStep, this};
    kernels::host::launchStepServer(queue, counter, ticket, nullptr);
    kernels::host::hostStepCheck = {};
  });
  return mixcclSuccess;
}

bool EmulatedGpu::checkStep(void* self, const kernels::StepCommand& c) {
  auto* gpu = static_cast<EmulatedGpu*>(self);
  const size_t bytes = c.kind == kernels::kStepCopy ? c.count : c.count * dataTypeSize(mixcclDataType_t(c.dtype));
  const bool ok = gpu->checkKernelAccess(reinterpret_cast<void*>(c.dst), bytes, "step output") == mixcclSuccess &&
                  gpu->checkKernelAccess(reinterpret_cast<void*>(c.a), bytes, "step input a") == mixcclSuccess &&
                  (c.kind != kernels::kStepReduce ||
                   gpu->checkKernelAccess(reinterpret_cast<void*>(c.b), bytes, "step input b") == mixcclSuccess);
  if (!ok) ++gpu->stepFaults_;
  if (ok && c.kind == kernels::kStepReduce) ++gpu->reduceCalls_;
  return ok;
}

Result EmulatedGpu::streamWriteFlag(void* stream, uint32_t* flag, uint32_t value) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  resolve(stream)->submit([=] { kernels::host::launchWriteFlag(flag, value, nullptr); });
  return mixcclSuccess;
}

Result EmulatedGpu::streamWaitFlag(void* stream, const uint32_t* flag, uint32_t value) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  resolve(stream)->submit([=] { kernels::host::launchWaitFlag(flag, value, nullptr); }, true);
  return mixcclSuccess;
}

Result EmulatedGpu::streamCreate(void** out) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  auto* s = new Stream(delayUs_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!queues_.empty()) s->setQueue(queues_[firstQueue_ + nextQueue_++ % (queues_.size() - firstQueue_)].get());
  streams_.insert(s);
  *out = s;
  return mixcclSuccess;
}

Result EmulatedGpu::streamDestroy(void* stream) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  auto* s = static_cast<Stream*>(stream);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_.erase(s) == 0) return failf(mixcclInvalidArgument, "emulated gpu: unknown stream %p", stream);
    if (s->idle()) {
      delete s;
      return mixcclSuccess;
    }
    retiring_.insert(s);  // synchronizeDevice waits for it too
  }
  // As CUDA's: the call returns at once, and the stream goes once its work is done (never, if it is held).
  std::thread([this, s] {
    for (;;) {
      streamSynchronize(s);
      std::lock_guard<std::mutex> lock(mu_);  // no one submits to it meanwhile
      if (!s->idle()) continue;
      retiring_.erase(s);
      delete s;
      return;
    }
  }).detach();
  return mixcclSuccess;
}

Result EmulatedGpu::streamSynchronize(void* stream) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  resolve(stream)->submit([done] { done->set_value(); });
  f.wait();
  return mixcclSuccess;
}

Result EmulatedGpu::deviceSynchronize() {
  synchronizeDevice("deviceSynchronize (cudaDeviceSynchronize)");  // without the runtime: a synchronisation
  return mixcclSuccess;
}

Result EmulatedGpu::eventCreate(void** out) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  *out = new Event();
  return mixcclSuccess;
}

Result EmulatedGpu::eventDestroy(void* event) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  delete static_cast<Event*>(event);
  return mixcclSuccess;
}

Result EmulatedGpu::eventRecord(void* event, void* stream) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  std::shared_ptr<EventState> e = stateOf(event);
  const uint64_t n = e->recorded.fetch_add(1) + 1;
  resolve(stream)->submit([e, n] { e->completed.store(n); });
  return mixcclSuccess;
}

Result EmulatedGpu::streamWaitEvent(void* stream, void* event) {
  const std::shared_lock<std::shared_mutex> launching(runtime_);
  std::shared_ptr<EventState> e = stateOf(event);
  const uint64_t n = e->recorded.load();
  resolve(stream)->submit([e, n] { napUntil([&] { return e->completed.load() >= n; }); }, true);
  return mixcclSuccess;
}

Result EmulatedGpu::eventQuery(void* event, bool* done) {
  const std::shared_ptr<EventState> e = stateOf(event);
  *done = e->completed.load() >= e->recorded.load();
  return mixcclSuccess;
}

namespace {
// What an emulated IPC handle holds: where another process finds the memfd.
struct EmuHandle {
  uint32_t magic;
  int32_t pid;
  int32_t fd;
  uint64_t bytes;
};
constexpr uint32_t kHandleMagic = 0x454d5531;  // "EMU1"
}  // namespace

Result EmulatedGpu::ipcExport(const void* base, IpcHandle* out) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fds_.find(reinterpret_cast<uintptr_t>(base));
  if (it == fds_.end()) return failf(mixcclInvalidArgument, "emulated gpu: ipcExport(%p): not an allocation", base);
  EmuHandle h{kHandleMagic, int32_t(getpid()), it->second, device_[it->first]};
  IpcHandle handle;
  std::memcpy(handle.bytes, &h, sizeof(h));
  *out = handle;
  return mixcclSuccess;
}

Result EmulatedGpu::ipcImport(const IpcHandle& handle, void** out) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  EmuHandle h;
  std::memcpy(&h, handle.bytes, sizeof(h));
  if (h.magic != kHandleMagic) return fail(mixcclInvalidArgument, "emulated gpu: ipcImport: not an emulated handle");
  const std::string path = "/proc/" + std::to_string(h.pid) + "/fd/" + std::to_string(h.fd);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return failf(mixcclSystemError, "emulated gpu: ipcImport: open %s: %s", path.c_str(), strerror(errno));
  void* p = mmap(nullptr, h.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return failf(mixcclSystemError, "emulated gpu: ipcImport: mmap: %s", strerror(errno));
  if (!device_guard::protect(p, h.bytes)) {
    munmap(p, h.bytes);
    return failf(mixcclSystemError, "emulated gpu: ipcImport: guarding the mapping: %s", strerror(errno));
  }
  device_guard::denyThisThread();
  std::lock_guard<std::mutex> lock(mu_);
  device_[reinterpret_cast<uintptr_t>(p)] = h.bytes;  // a peer's device memory, mapped here
  *out = p;
  return mixcclSuccess;
}

Result EmulatedGpu::ipcClose(void* mapped) {
  const std::shared_lock<std::shared_mutex> calling(runtime_);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = device_.find(reinterpret_cast<uintptr_t>(mapped));
  if (it == device_.end() || fds_.count(it->first) != 0) {
    return failf(mixcclInvalidArgument, "emulated gpu: ipcClose(%p): not an imported mapping", mapped);
  }
  munmap(mapped, it->second);
  device_.erase(it);
  return mixcclSuccess;
}

size_t EmulatedGpu::liveDeviceAllocations() {
  std::lock_guard<std::mutex> lock(mu_);
  return device_.size();
}

size_t EmulatedGpu::livePinnedAllocations() {
  std::lock_guard<std::mutex> lock(mu_);
  return pinned_.size();
}

EmulatedGpu& installEmulatedGpu(unsigned delayUs, MemoryType vendor) {
  device_guard::denyThisThread();  // the caller is a host thread, and so are the threads it makes from now on
  static std::mutex mu;
  static EmulatedGpu* gpus[kNumMemoryTypes] = {};  // never destroyed: the library may use them while the process exits
  std::lock_guard<std::mutex> lock(mu);
  EmulatedGpu*& g = gpus[int(vendor)];
  if (g == nullptr) {
    g = new EmulatedGpu(delayUs, vendor);
    // The streams share as many hardware queues as a CUDA context has (emulateHardwareQueues), unless the
    // environment says otherwise: MIXCCL_TEST_EMULATED_QUEUES=n, n queues; 0, a queue per stream.
    const char* forced = std::getenv("MIXCCL_TEST_EMULATED_QUEUES");
    const int queues = forced != nullptr ? std::atoi(forced) : g->hardwareQueues();
    if (queues > 0) g->emulateHardwareQueues(queues);
    setGpuBackendForTesting(vendor, g);
  }
  return *g;
}

}  // namespace mixccl::testing

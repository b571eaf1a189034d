#include "core/device_steps.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "core/communicator.h"
#include "core/config.h"
#include "core/log.h"
#include "device/deferred_free.h"
#include "engine/coll_args.h"

namespace mixccl {
namespace {

using kernels::kStepRing;
using kernels::StepCommand;
using kernels::StepQueue;

constexpr auto kSpinFor = std::chrono::microseconds(50);
constexpr double kTeardownWaitSec = 10;  // how long destruction waits for the servers to leave
constexpr auto kNap = std::chrono::microseconds(20);

// Whether sequence number a is at or past b (wrap-around order).
bool atOrPast(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

uint32_t loadAcquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// The StepDevice of a job: each call becomes one command in the queue; a fence is the sequence number of the last
// command so far, reached once the server's `done` word is at or past it.
class DeviceSteps::Commands final : public StepDevice {
 public:
  Commands(StepQueue* queue, double timeoutSec) : q_(queue), timeoutSec_(timeoutSec) {}

  // Publishes the start of a job (the server launched for it waits for `job`).
  void begin(uint32_t job) {
    ++jobs_;
    base_ = seq_;
    q_->base = base_;
    q_->counterBase = commandsDone_;
    __atomic_store_n(&q_->job, job, __ATOMIC_RELEASE);
    commandsInJob_ = 0;
  }
  // Waits for the job's commands (bounded), then sends the exit command.
  Result end() {
    Result res = mixcclSuccess;
    if (commandsInJob_ > 0) res = waitDone(seq_, "the last step of the job");
    commandsDone_ += commandsInJob_;
    StepCommand exit{};
    exit.kind = kernels::kStepExit;
    Result pushed = push(exit);
    return res != mixcclSuccess ? res : pushed;
  }

  Result reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override {
    StepCommand c{};
    c.kind = kernels::kStepReduce;
    setSpec(&c, spec);
    return pushOp(c, dst, a, b, count);
  }
  Result postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override {
    if (spec.divisor <= 1 && dst == src) return mixcclSuccess;
    StepCommand c{};
    c.kind = kernels::kStepPostOp;
    setSpec(&c, spec);
    return pushOp(c, dst, src, src, count);
  }
  Result copy(void* dst, const void* src, size_t bytes) override {
    if (dst == src || bytes == 0) return mixcclSuccess;
    StepCommand c{};
    c.kind = kernels::kStepCopy;
    return pushOp(c, dst, src, src, bytes);
  }
  Result fence(uint64_t* fence) override {
    *fence = seq_;
    return mixcclSuccess;
  }
  Result reached(uint64_t fence, bool* done) override {
    const uint32_t at = loadAcquire(&q_->done);
    timeDone(at);
    *done = fence == base_ || atOrPast(at, uint32_t(fence));
    return mixcclSuccess;
  }

  // Where the time went (logged at teardown): from a command's queuing to the proxy's first sight of it done,
  // summed apart for the first command of each job (which also waits for the job's server to start).
  std::string timingReport() const {
    if (timed_ + timedFirst_ == 0) return "";
    char line[320];
    std::snprintf(line, sizeof(line), "%llu jobs, %llu commands; from a command's queuing to the proxy seeing it "
                  "done: %.1f us on average, %.1f us for the first of a job (its server starting)",
                  static_cast<unsigned long long>(jobs_), static_cast<unsigned long long>(timed_ + timedFirst_),
                  timed_ > 0 ? sumUs_ / double(timed_) : 0.0,
                  timedFirst_ > 0 ? firstSumUs_ / double(timedFirst_) : 0.0);
    return line;
  }

 private:
  static void setSpec(StepCommand* c, const ReduceSpec& spec) {
    c->dtype = uint32_t(spec.dtype);
    c->op = uint32_t(spec.op);
    c->divisor = spec.divisor;
  }
  Result pushOp(StepCommand c, void* dst, const void* a, const void* b, uint64_t count) {
    c.dst = reinterpret_cast<uintptr_t>(dst);
    c.a = reinterpret_cast<uintptr_t>(a);
    c.b = reinterpret_cast<uintptr_t>(b);
    c.count = count;
    MIXCCL_TRY(push(c));
    ++commandsInJob_;
    return mixcclSuccess;
  }
  // Writes the next command: its slot's earlier command must be done first, if it was this job's.
  Result push(StepCommand c) {
    const uint32_t s = seq_ + 1;
    const uint32_t previous = s - kStepRing;
    if (static_cast<int32_t>(previous - base_) > 0) MIXCCL_TRY(waitDone(previous, "a free slot of the step queue"));
    StepCommand& slot = q_->ring[s % kStepRing];
    c.seq = 0;
    __atomic_store_n(&slot.seq, 0u, __ATOMIC_RELAXED);
    slot.dst = c.dst;
    slot.a = c.a;
    slot.b = c.b;
    slot.count = c.count;
    slot.kind = c.kind;
    slot.dtype = c.dtype;
    slot.op = c.op;
    slot.divisor = c.divisor;
    __atomic_store_n(&slot.seq, s, __ATOMIC_RELEASE);
    seq_ = s;
    timedAs_[s % kStepRing] = c.kind == kernels::kStepExit ? kUntimed : commandsInJob_ == 0 ? kFirst : kLater;
    if (c.kind != kernels::kStepExit) queuedAt_[s % kStepRing] = std::chrono::steady_clock::now();
    return mixcclSuccess;
  }
  // Adds the commands done since the last look, up to `at`, to the timing (exit commands report nothing).
  void timeDone(uint32_t at) {
    if (!atOrPast(at, seenDone_ + 1)) return;
    const auto now = std::chrono::steady_clock::now();
    for (uint32_t s = seenDone_ + 1; atOrPast(at, s) && atOrPast(seq_, s); ++s) {
      if (timedAs_[s % kStepRing] == kUntimed) continue;
      const double us = std::chrono::duration<double, std::micro>(now - queuedAt_[s % kStepRing]).count();
      if (timedAs_[s % kStepRing] == kFirst) {
        firstSumUs_ += us;
        ++timedFirst_;
      } else {
        sumUs_ += us;
        ++timed_;
      }
    }
    seenDone_ = at;
  }
  Result waitDone(uint32_t s, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const uint32_t at = loadAcquire(&q_->done);
      timeDone(at);
      if (atOrPast(at, s)) break;
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > std::chrono::duration<double>(timeoutSec_)) {
        return failf(mixcclInternalError, "device steps: the GPU did not run %s within %.0f s (MIXCCL_TIMEOUT): is "
                     "the stream of the call blocked?", what, timeoutSec_);
      }
      if (waited > kSpinFor) std::this_thread::sleep_for(kNap);
    }
    return mixcclSuccess;
  }

  StepQueue* q_;
  double timeoutSec_;
  uint32_t seq_ = 0;            // the last command written
  uint32_t base_ = 0;           // seq_ when the job began
  uint64_t commandsDone_ = 0;   // non-exit commands of the jobs before this one
  uint64_t commandsInJob_ = 0;
  // Timing (timingReport): when each ring slot's command was queued, and how it counts (exit commands report no
  // completion; a job's first command also waits for its server to start).
  enum TimedAs : uint8_t { kUntimed = 0, kFirst, kLater };
  std::chrono::steady_clock::time_point queuedAt_[kStepRing];
  TimedAs timedAs_[kStepRing] = {};
  uint32_t seenDone_ = 0;  // the last `done` taken into the timing
  uint64_t jobs_ = 0, timed_ = 0, timedFirst_ = 0;
  double sumUs_ = 0, firstSumUs_ = 0;
};

void DeviceSteps::create(GpuBackend* gpu, const std::vector<Transport*>& transports, double timeoutSec,
                         std::unique_ptr<DeviceSteps>* out, std::string* why) {
  if (!gpu->mapsHostMemoryInPlace()) {
    *why = std::string("the ") + gpu->name() + " device does not see registered host memory at the host's address";
    return;
  }
  std::unique_ptr<DeviceSteps> steps(new DeviceSteps());
  steps->gpu_ = gpu;
  steps->timeoutSec_ = timeoutSec;
  for (Transport* t : transports) {
    const std::vector<HostRange> ranges = t->slotMemory();
    if (ranges.empty()) {
      *why = std::string("the ") + t->name() + " transport's slots are not host memory a GPU can be given";
      return;
    }
    for (const HostRange& r : ranges) {
      if (gpu->hostRegister(r.base, r.bytes) != mixcclSuccess) {
        *why = std::string("registering the ") + t->name() + " transport's slots with the GPU failed (see above)";
        return;  // the destructor unregisters what was registered
      }
      steps->registered_.push_back(r.base);
    }
  }
  void* queue = nullptr;
  void* counter = nullptr;
  if (gpu->allocPinned(sizeof(StepQueue), &queue) != mixcclSuccess ||
      gpu->allocDevice(kernels::kStepCounterWords * sizeof(uint64_t), &counter) != mixcclSuccess) {
    freeGpuMemory(gpu, GpuFreeKind::kPinned, queue);
    *why = "allocating the step queue failed (see above)";
    return;
  }
  steps->queue_ = static_cast<StepQueue*>(queue);
  steps->counter_ = static_cast<uint64_t*>(counter);
  std::memset(queue, 0, sizeof(StepQueue));
  gpu->copy(counter, &steps->queue_->zero, sizeof(uint64_t));  // zero (a failure is logged: later jobs time out)
  steps->device_ = std::make_unique<Commands>(steps->queue_, timeoutSec);
  *out = std::move(steps);
}

DeviceSteps::~DeviceSteps() {
  if (device_ != nullptr) {
    const std::string timing = device_->timingReport();
    if (!timing.empty() && jobsTimed_ > 0) {
      MIXCCL_LOG(kInfo, "device steps: %s; a job waited %.1f us on average from its launch to the proxy's start (behind "
                 "the jobs before it, too) and ran %.1f us from there to its end", timing.c_str(),
                 waitUs_ / double(jobsTimed_), runUs_ / double(jobsTimed_));
    } else if (!timing.empty()) {
      MIXCCL_LOG(kInfo, "device steps: %s", timing.c_str());
    }
  }
  // Every server launched must have left (the proxy ended their jobs; a stream that never reaches its server keeps
  // it waiting): only then can nothing on the GPU touch the queue, the scratch or the slots any more.
  uint32_t stuck = 0;  // a job whose server has not left
  if (queue_ != nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kTeardownWaitSec);
    const uint32_t oldest = launched_ > kernels::kStepExitSlots ? launched_ - kernels::kStepExitSlots + 1 : 1;
    for (uint32_t t = oldest; t <= launched_ && stuck == 0; ++t) {
      while (loadAcquire(&queue_->exited[t % kernels::kStepExitSlots]) != t && stuck == 0) {
        if (std::chrono::steady_clock::now() > deadline) stuck = t;
        std::this_thread::sleep_for(kNap);
      }
    }
  }
  if (stuck != 0) {
    MIXCCL_LOG(kWarn, "device steps: the step server of job %u had not left after %.0f s (is its stream blocked?); "
               "the queue, scratch and slot registrations stay in place", stuck, kTeardownWaitSec);
    return;
  }
  for (void* base : registered_) gpu_->hostUnregister(base);  // now: the transports unmap these ranges next
  for (Arena& a : arenas_) freeGpuMemory(gpu_, GpuFreeKind::kDevice, a.base);
  freeGpuMemory(gpu_, GpuFreeKind::kDevice, counter_);
  freeGpuMemory(gpu_, GpuFreeKind::kPinned, queue_);
}

Result DeviceSteps::reserve(size_t bytes, int* arena) {
  *arena = -1;
  if (bytes == 0) return mixcclSuccess;
  std::lock_guard<std::mutex> lock(arenaMu_);
  for (size_t i = 0; i < arenas_.size(); ++i) {
    if (!arenas_[i].busy && arenas_[i].bytes >= bytes) {
      arenas_[i].busy = true;
      *arena = int(i);
      return mixcclSuccess;
    }
  }
  Arena a;
  a.bytes = bytes;
  a.busy = true;
  MIXCCL_TRY(gpu_->allocDevice(bytes, &a.base));
  arenas_.push_back(a);
  *arena = int(arenas_.size()) - 1;
  return mixcclSuccess;
}

Result DeviceSteps::launch(void* stream, uint32_t* job) {
  const uint32_t next = launched_ + 1;
  MIXCCL_TRY(gpu_->copyAsync(counter_ + 1 + next % kernels::kStepExitSlots, &queue_->zero, sizeof(uint64_t), stream));
  MIXCCL_TRY(gpu_->launchStepServer(queue_, counter_, next, stream));
  launchedNs_[next % kernels::kStepExitSlots].store(steadyNs(), std::memory_order_relaxed);
  launched_ = next;
  *job = next;
  return mixcclSuccess;
}

StepDevice& DeviceSteps::device() { return *device_; }

void DeviceSteps::beginJob(uint32_t job, int arena) {
  // The proxy gets a job after its launch returned (the hand-over orders the two).
  jobBeganNs_ = steadyNs();
  waitUs_ += double(jobBeganNs_ - launchedNs_[job % kernels::kStepExitSlots].load(std::memory_order_relaxed)) / 1e3;
  jobArena_ = arena;
  arenaUsed_ = 0;
  device_->begin(job);
}

Result DeviceSteps::scratch(size_t bytes, void** out) {
  constexpr size_t kAlign = 256;
  std::lock_guard<std::mutex> lock(arenaMu_);
  const size_t at = (arenaUsed_ + kAlign - 1) / kAlign * kAlign;
  if (jobArena_ < 0 || at + bytes > arenas_[size_t(jobArena_)].bytes) {
    return failf(mixcclInternalError, "device steps: a plan needs %zu bytes of scratch past the %zu reserved for its "
                 "job", bytes, jobArena_ < 0 ? size_t(0) : arenas_[size_t(jobArena_)].bytes - at);
  }
  *out = static_cast<char*>(arenas_[size_t(jobArena_)].base) + at;
  arenaUsed_ = at + bytes;
  return mixcclSuccess;
}

Result DeviceSteps::endJob() {
  Result res = device_->end();
  runUs_ += double(steadyNs() - jobBeganNs_) / 1e3;
  ++jobsTimed_;
  unreserve(jobArena_);
  jobArena_ = -1;
  return res;
}

void DeviceSteps::unreserve(int arena) {
  if (arena < 0) return;
  std::lock_guard<std::mutex> lock(arenaMu_);
  arenas_[size_t(arena)].busy = false;
}

bool deviceStepsWanted(bool remotePeers, bool timeSliced) {
  const std::string mode = configString(cfg::kDeviceSteps);
  if (mode == "1") return true;
  if (mode == "auto") return remotePeers && !timeSliced;
  if (mode != "0") {
    // Malformed configuration: said once, then the default (config.h's rule).
    static std::once_flag said;
    std::call_once(
        said, [&mode] { MIXCCL_LOG(kWarn, "MIXCCL_DEVICE_STEPS=%s is not 0, 1 or auto; using 0", mode.c_str()); });
  }
  return false;
}

bool deviceStepsFit(const CollCall& call, int device) {
  const Communicator& c = *call.comm->impl;
  if (call.scale || call.owned != nullptr) return false;
  // Messages to this rank itself are copied by the host (core/group.cc), so they stay in host memory.
  const bool p2p = call.args.type == CollType::kSend || call.args.type == CollType::kRecv;
  if (p2p && call.peer == c.rank()) return false;
  const bool usesSend = readsSend(call.args, c.rank());
  const bool usesRecv = writesRecv(call.args, c.rank());
  if (usesSend && (call.sendMem == MemoryType::kHost || call.sendDevice != device)) return false;
  if (usesRecv && (call.recvMem == MemoryType::kHost || call.recvDevice != device)) return false;
  return usesSend || usesRecv;
}

}  // namespace mixccl

#include "core/device_steps.h"

#include <deque>
#include <mutex>

#include "core/communicator.h"
#include "core/config.h"
#include "core/log.h"
#include "engine/coll_args.h"

namespace mixccl {
namespace {

// A StepDevice on one stream of a GpuBackend: fences are events recorded on the stream, completed in order.
class StreamStepDevice final : public StepDevice {
 public:
  StreamStepDevice(GpuBackend* gpu, void* stream) : gpu_(gpu), stream_(stream) {}
  ~StreamStepDevice() override {
    for (auto& [fence, event] : pending_) gpu_->eventDestroy(event);
    for (void* e : free_) gpu_->eventDestroy(e);
  }
  Result reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override {
    return gpu_->reduceAsync(dst, a, b, count, spec, stream_);
  }
  Result postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override {
    return gpu_->postOpAsync(dst, src, count, spec, stream_);
  }
  // A kernel, not the copy engines: between two slots (registered host memory) the runtime's copy would be
  // synchronous with the host.
  Result copy(void* dst, const void* src, size_t bytes) override {
    return dst == src ? mixcclSuccess : gpu_->copyKernelAsync(dst, src, bytes, stream_);
  }
  Result fence(uint64_t* fence) override {
    void* e = nullptr;
    if (!free_.empty()) {
      e = free_.back();
      free_.pop_back();
    } else {
      MIXCCL_TRY(gpu_->eventCreate(&e));
    }
    Result r = gpu_->eventRecord(e, stream_);
    if (r != mixcclSuccess) {
      free_.push_back(e);
      return r;
    }
    pending_.emplace_back(++issued_, e);
    *fence = issued_;
    return mixcclSuccess;
  }
  Result reached(uint64_t fence, bool* done) override {
    // The stream runs in order: the oldest pending event completes first.
    while (!pending_.empty() && pending_.front().first <= fence) {
      bool complete = false;
      MIXCCL_TRY(gpu_->eventQuery(pending_.front().second, &complete));
      if (!complete) break;
      completed_ = pending_.front().first;
      free_.push_back(pending_.front().second);
      pending_.pop_front();
    }
    *done = fence <= completed_;
    return mixcclSuccess;
  }

 private:
  GpuBackend* gpu_;
  void* stream_;
  uint64_t issued_ = 0;
  uint64_t completed_ = 0;
  std::deque<std::pair<uint64_t, void*>> pending_;
  std::vector<void*> free_;
};

}  // namespace

void DeviceSteps::create(GpuBackend* gpu, const std::vector<Transport*>& transports, std::unique_ptr<DeviceSteps>* out,
                         std::string* why) {
  if (!gpu->mapsHostMemoryInPlace()) {
    *why = std::string("the ") + gpu->name() + " device does not see registered host memory at the host's address";
    return;
  }
  std::unique_ptr<DeviceSteps> steps(new DeviceSteps());
  steps->gpu_ = gpu;
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
  if (gpu->streamCreate(&steps->stream_) != mixcclSuccess) {
    *why = "creating a stream failed (see above)";
    return;
  }
  steps->device_ = std::make_unique<StreamStepDevice>(gpu, steps->stream_);
  *out = std::move(steps);
}

DeviceSteps::~DeviceSteps() {
  bool idle = true;
  if (stream_ != nullptr) {
    // A stream that never drains (a broken device) keeps the memory it may still touch.
    idle = gpu_->streamSynchronize(stream_) == mixcclSuccess;
    device_.reset();
    gpu_->streamDestroy(stream_);
  }
  if (!idle) {
    MIXCCL_LOG(kWarn,
               "device steps: the stream did not drain; leaving %zu registration(s) and %zu scratch "
               "buffer(s) in place",
               registered_.size(), freeScratch_.size() + usedScratch_.size());
    return;
  }
  for (void* base : registered_) gpu_->hostUnregister(base);
  releaseScratch();
  for (auto& [bytes, p] : freeScratch_) gpu_->freeDevice(p);
}

Result DeviceSteps::scratch(size_t bytes, void** out) {
  auto it = freeScratch_.lower_bound(bytes);
  if (it != freeScratch_.end()) {
    usedScratch_.emplace_back(it->first, it->second);
    *out = it->second;
    freeScratch_.erase(it);
    return mixcclSuccess;
  }
  void* p = nullptr;
  MIXCCL_TRY(gpu_->allocDevice(bytes, &p));
  usedScratch_.emplace_back(bytes, p);
  *out = p;
  return mixcclSuccess;
}

Result DeviceSteps::drain() { return gpu_->streamSynchronize(stream_); }

void DeviceSteps::releaseScratch() {
  for (auto& [bytes, p] : usedScratch_) freeScratch_.emplace(bytes, p);
  usedScratch_.clear();
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

#include "core/fork_stream.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/communicator.h"
#include "core/device_launch.h"
#include "core/device_scope.h"
#include "core/log.h"
#include "device/event_wait.h"

namespace mixccl {
namespace {

// How long teardown waits for the last join's work before it leaves the stream and the events allocated.
constexpr double kTeardownWaitSec = 10;

// The backend of the first GPU memory a call touches (its buffers, then a pre-mul-sum scalar).
GpuBackend* callGpu(const CollCall& c) {
  for (MemoryType t : {c.sendMem, c.recvMem, c.scale ? c.scalarMem : MemoryType::kHost}) {
    if (t != MemoryType::kHost) return gpuBackend(t);
  }
  return nullptr;
}

}  // namespace

Result ForkStream::create(GpuBackend* gpu, int device, std::unique_ptr<ForkStream>* out) {
  std::unique_ptr<ForkStream> f(new ForkStream());
  f->gpu_ = gpu;
  f->device_ = device;
  DeviceScope scope(gpu, device);
  MIXCCL_TRY(scope.status());
  MIXCCL_TRY(gpu->streamCreate(&f->stream_));
  MIXCCL_TRY(gpu->eventCreate(&f->forked_));
  MIXCCL_TRY(gpu->eventCreate(&f->joined_));
  *out = std::move(f);
  return mixcclSuccess;
}

ForkStream::~ForkStream() {
  if (gpu_ == nullptr) return;
  DeviceScope scope(gpu_, device_);
  if (everJoined_ && !eventDoneWithin(gpu_, joined_, kTeardownWaitSec)) {
    MIXCCL_LOG(kWarn, "a communicator's stream for calls of a group that shared a stream with other communicators "
               "had not finished its work after %.0f s; it stays allocated", kTeardownWaitSec);
    return;
  }
  if (joined_ != nullptr) gpu_->eventDestroy(joined_);
  if (forked_ != nullptr) gpu_->eventDestroy(forked_);
  if (stream_ != nullptr) gpu_->streamDestroy(stream_);
}

Result ForkStream::forkFrom(void* shared) {
  DeviceScope scope(gpu_, device_);
  MIXCCL_TRY(scope.status());
  MIXCCL_TRY(gpu_->eventRecord(forked_, shared));
  return gpu_->streamWaitEvent(stream_, forked_);
}

Result ForkStream::joinInto(void* shared) {
  DeviceScope scope(gpu_, device_);
  MIXCCL_TRY(scope.status());
  MIXCCL_TRY(gpu_->eventRecord(joined_, stream_));
  everJoined_ = true;
  return gpu_->streamWaitEvent(shared, joined_);
}

Result forkSharedStreams(std::vector<CollCall>& calls, std::vector<StreamJoin>* joins) {
  // The communicators whose GPU calls use each stream, in the order of their first call.
  std::map<void*, std::vector<mixcclComm*>> users;
  for (const CollCall& c : calls) {
    if (!needsStaging(c)) continue;
    std::vector<mixcclComm*>& u = users[c.stream];
    if (std::find(u.begin(), u.end(), c.comm) == u.end()) u.push_back(c.comm);
  }
  std::map<std::pair<mixcclComm*, void*>, ForkStream*> moved;
  for (const CollCall& c : calls) {
    if (!needsStaging(c) || users[c.stream].size() < 2 || moved.count({c.comm, c.stream}) > 0) continue;
    ForkStream* own = nullptr;
    MIXCCL_TRY(c.comm->impl->forkStream(callGpu(c), c.device, &own));
    MIXCCL_TRY(own->forkFrom(c.stream));
    moved[{c.comm, c.stream}] = own;
  }
  // Only once every fork is enqueued do the calls move: an error above leaves them as they were.
  for (CollCall& c : calls) {
    auto it = needsStaging(c) ? moved.find({c.comm, c.stream}) : moved.end();
    if (it != moved.end()) c.stream = it->second->stream();
  }
  for (const auto& [key, own] : moved) joins->push_back({own, key.second});
  return mixcclSuccess;
}

Result joinForks(const std::vector<StreamJoin>& joins) {
  Result first = mixcclSuccess;
  for (const StreamJoin& j : joins) {
    Result r = j.own->joinInto(j.shared);
    if (first == mixcclSuccess) first = r;
  }
  return first;
}

}  // namespace mixccl

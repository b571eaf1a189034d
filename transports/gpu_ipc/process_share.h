#pragma once
// What the ranks of one process share in gpu_ipc: one object per communicator and process, which GpuIpc::create
// hands from the lowest of those ranks to the others (shared_ptr copies keep it alive as long as any of them).
//
// * The streams they enqueue on. Ranks of one process that enqueue the SAME round on one stream would each wait
//   there for the other's part of it, queued behind that wait: a hang that no time-out ends, since the waits are the
//   GPU's. So a rank asks before it enqueues a call's rounds (claim), and the call is refused instead; a group forks
//   such a stream first (core/fork_stream.h).
// * Their workspaces. Ranks of one process use each other's workspace by address: another rank's stream may still
//   read it, or an abort (GpuIpc::releaseAll) write its flags, after its owner is gone. So an owner hands its
//   workspace over (retire) rather than freeing it, and it is freed when the last of them lets go of this object.
//   By then each of them has waited, at its teardown, until its own streams were done.
//
// Thread-safe.
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "device/gpu_backend.h"

namespace mixccl {

class ProcessShare {
 public:
  ProcessShare() = default;
  ~ProcessShare() {
    for (auto& [gpu, workspace] : retired_) gpu->freeDevice(workspace);
  }
  ProcessShare(const ProcessShare&) = delete;
  ProcessShare& operator=(const ProcessShare&) = delete;

  // Before rank `rank` enqueues its rounds from `first` on `stream`: -1, noting the stream as the rank's from
  // `first` on; or the other rank of this process whose rounds at or past `first` are on that stream already.
  int claim(void* stream, int rank, uint32_t first) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = streams_.try_emplace(stream, Holder{rank, first});
    if (!fresh && it->second.rank != rank && static_cast<int32_t>(it->second.last - first) >= 0) {
      return it->second.rank;
    }
    it->second = Holder{rank, first};
    return -1;
  }
  // After the rank enqueued them: its last round on the stream.
  void settle(void* stream, int rank, uint32_t last) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_[stream] = Holder{rank, last};
  }
  // A gone rank's workspace (device memory of `gpu`), freed with this object.
  void retire(GpuBackend* gpu, void* workspace) {
    std::lock_guard<std::mutex> lock(mu_);
    retired_.emplace_back(gpu, workspace);
  }

 private:
  struct Holder {
    int rank;
    uint32_t last;  // the last round it enqueued there (wrap-around order)
  };
  std::mutex mu_;
  std::unordered_map<void*, Holder> streams_;
  std::vector<std::pair<GpuBackend*, void*>> retired_;
};

}  // namespace mixccl

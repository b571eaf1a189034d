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
// * An abort. When one of them aborts (GpuIpc::releaseAll), every wait of the others on its flags passes, so their
//   rounds would go on with invalid data unnoticed: the others are told (their `onAbort`, which sets their
//   communicator's asynchronous error), and their later calls fail (abortedBy).
//
// Thread-safe.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "device/deferred_free.h"
#include "device/gpu_backend.h"

namespace mixccl {

class ProcessShare {
 public:
  ProcessShare() = default;
  ~ProcessShare() {
    for (const Retired& r : retired_) freeGpuMemory(r.gpu, GpuFreeKind::kDevice, r.workspace, r.device);
  }
  ProcessShare(const ProcessShare&) = delete;
  ProcessShare& operator=(const ProcessShare&) = delete;

  // Before rank `rank` enqueues its rounds from `first` (counted from 1, never wrapping) on `stream`: -1, noting the
  // stream as the rank's from `first` on; or the other rank of this process whose rounds at or past `first` are on
  // that stream already. The per-thread default stream (one handle, a stream of each thread's own) is never shared.
  int claim(void* stream, int rank, uint64_t first) {
    if (stream == kPerThreadStream) return -1;
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = streams_.try_emplace(stream, Holder{rank, first});
    if (!fresh && it->second.rank != rank && it->second.last >= first) return it->second.rank;
    it->second = Holder{rank, first};
    return -1;
  }
  // After the rank enqueued them: its last round on the stream.
  void settle(void* stream, int rank, uint64_t last) {
    if (stream == kPerThreadStream) return;
    std::lock_guard<std::mutex> lock(mu_);
    streams_[stream] = Holder{rank, last};
  }
  // Rank `rank` takes part: `onAbort(aborter)` is called (from the aborting rank's thread) when another of them
  // aborts, until the rank leaves. Leave before what onAbort uses is gone.
  void join(int rank, std::function<void(int)> onAbort) {
    std::lock_guard<std::mutex> lock(mu_);
    onAbort_[rank] = std::move(onAbort);
  }
  void leave(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    onAbort_.erase(rank);
  }
  // Rank `rank` aborts: the others that take part are told (the first abort only).
  void aborted(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    int none = -1;
    if (!aborter_.compare_exchange_strong(none, rank)) return;
    for (auto& [r, tell] : onAbort_) {
      if (r != rank) tell(rank);
    }
  }
  // The rank of this process that aborted first, or -1 (no lock: every call asks).
  int abortedBy() const { return aborter_.load(std::memory_order_acquire); }
  // A gone rank's workspace (memory of `gpu`'s device `device`), freed with this object.
  void retire(GpuBackend* gpu, void* workspace, int device) {
    std::lock_guard<std::mutex> lock(mu_);
    retired_.push_back(Retired{gpu, workspace, device});
  }

 private:
  // cudaStreamPerThread and hipStreamPerThread.
  static inline void* const kPerThreadStream = reinterpret_cast<void*>(uintptr_t(2));
  struct Holder {
    int rank;
    uint64_t last;  // the last round it enqueued there
  };
  std::mutex mu_;
  std::unordered_map<void*, Holder> streams_;
  struct Retired {
    GpuBackend* gpu;
    void* workspace;
    int device;
  };
  std::vector<Retired> retired_;
  std::map<int, std::function<void(int)>> onAbort_;
  std::atomic<int> aborter_{-1};
};

}  // namespace mixccl

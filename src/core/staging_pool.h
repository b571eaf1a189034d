#pragma once
// Pinned host buffers and events for staging GPU data through host memory, reused once the stream work that
// touches them is over (core/device_launch.h).
//
// Contract: used by the one thread that uses the communicator. Buffers come in power-of-two sizes (at least
// 4 KiB) and are kept for reuse until the pool is destroyed; a request takes the smallest cached buffer that holds
// it (up to 4 times its size), else a new one. No buffer is freed before the destructor: a free while calls are in
// flight stops every thread's launches until the device drains, which may wait for one of them
// (device/deferred_free.h). So the cache holds one set of buffers per size the calls used at once. The destructor
// frees what no stream work can still touch; what is still pending then (a stream that never ran) is left allocated,
// with a warning, rather than freed under a GPU's feet. Owners drain their proxy and call waitIdle() first.
#include <cstddef>
#include <map>
#include <vector>

#include "core/status.h"
#include "device/gpu_backend.h"

namespace mixccl {

class StagingPool {
 public:
  // `maxBytes`: the pinned memory the calls hold at once (in use or pending; cached buffers do not count). A new
  // buffer that would pass it first waits (up to 5 s) for pending ones to come back; a request larger than the limit,
  // or one still short after the wait, gets its buffer past the limit (said once at INFO).
  StagingPool(GpuBackend* gpu, size_t maxBytes) : gpu_(gpu), maxBytes_(maxBytes) {}
  ~StagingPool();
  StagingPool(const StagingPool&) = delete;
  StagingPool& operator=(const StagingPool&) = delete;

  // A pinned buffer of at least `bytes` bytes (allocPinned memory: GPU-mapped). May wait for earlier stream
  // work to release buffers when the pool is at its limit.
  Result acquire(size_t bytes, char** out);
  // An event of the pool's backend.
  Result acquireEvent(void** out);
  // Takes back `buffers` and `events` once every event in `after` has completed (they may be among `events`).
  void releaseAfter(std::vector<char*> buffers, std::vector<void*> events, std::vector<void*> after);
  // Waits until every pending release has happened or `timeoutSec` passed; false on timeout. An event whose
  // query fails counts as completed (the failure is logged by the backend).
  bool waitIdle(double timeoutSec);

 private:
  struct Pending {
    std::vector<char*> buffers;
    std::vector<void*> events;
    std::vector<void*> after;
  };
  // Moves the pending releases whose events completed to the free lists.
  void sweep();
  // Takes the smallest cached buffer of a capacity in [cap, kMaxFitFactor * cap] into *out; false if there is none.
  bool takeCached(size_t cap, char** out);
  bool completed(const Pending& p);

  GpuBackend* gpu_;
  const size_t maxBytes_;
  size_t heldBytes_ = 0;                       // every buffer this pool allocated and has not freed
  size_t cachedBytes_ = 0;                     // those in free_
  std::map<size_t, std::vector<char*>> free_;  // by capacity
  std::map<char*, size_t> capacity_;           // every buffer this pool allocated
  std::vector<void*> freeEvents_;
  std::vector<void*> allEvents_;
  std::vector<Pending> pending_;
  bool saidPastLimit_ = false;
};

}  // namespace mixccl

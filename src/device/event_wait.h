#pragma once
// Waiting, bounded, for an event of a GPU backend: teardown paths that must not free memory a stream may still use,
// and must not hang where a stream never gets there.
#include <chrono>
#include <thread>

#include "device/gpu_backend.h"

namespace mixccl {

// Whether `event` (recorded on a stream) completed within `seconds`, polled every 100 us; false also when a query
// failed (the backend logged it).
inline bool eventDoneWithin(GpuBackend* gpu, void* event, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (gpu->eventQuery(event, &done) != mixcclSuccess) return false;
    if (!done) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return done;
}

}  // namespace mixccl

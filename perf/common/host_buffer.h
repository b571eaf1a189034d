#pragma once
// A zero-filled host buffer (the perf tools' send, receive and expected-data buffers): 64-byte aligned heap memory,
// or, given a GPU, that GPU's pinned memory. The host mirrors of device buffers must be pinned: a copy between
// pageable memory and the device goes through the runtime's own staging and may block the calling thread until the
// stream reaches it, and with several ranks as threads of one process (one context) a thread so blocked can hold
// up another rank's thread, whose call this rank's stream is waiting for.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "common/perf_error.h"
#include "device/gpu_backend.h"

namespace mixccl::perf {

class HostBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  // `pinnedBy`: the GPU whose pinned memory to use (nullptr: heap). Throws PerfError (pinned) or std::bad_alloc.
  explicit HostBuffer(size_t bytes, GpuBackend* pinnedBy = nullptr) : bytes_(bytes) {
    size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0) rounded = kAlignment;
    if (pinnedBy != nullptr) {
      void* p = nullptr;
      if (pinnedBy->allocPinned(rounded, &p) != mixcclSuccess) {
        throw PerfError("allocating " + std::to_string(rounded) + " B of pinned host memory failed");
      }
      data_ = static_cast<char*>(p);
      pinnedBy_ = pinnedBy;
    } else {
      data_ = static_cast<char*>(std::aligned_alloc(kAlignment, rounded));
      if (data_ == nullptr) throw std::bad_alloc();
    }
    std::memset(data_, 0, rounded);  // touches every page, so the first timed op does not fault them in
  }
  ~HostBuffer() {
    if (pinnedBy_ != nullptr) {
      pinnedBy_->freePinned(data_);  // a failure is logged by the backend
    } else {
      std::free(data_);
    }
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  char* data() { return data_; }
  size_t size() const { return bytes_; }

 private:
  char* data_ = nullptr;
  size_t bytes_ = 0;
  GpuBackend* pinnedBy_ = nullptr;
};

}  // namespace mixccl::perf

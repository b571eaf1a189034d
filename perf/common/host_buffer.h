#pragma once
// A zero-filled, 64-byte aligned host buffer (the perf tools' send, receive and expected-data buffers).
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mixccl::perf {

class HostBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  explicit HostBuffer(size_t bytes) : bytes_(bytes) {
    size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0) rounded = kAlignment;
    data_ = static_cast<char*>(std::aligned_alloc(kAlignment, rounded));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(data_, 0, rounded);  // touches every page, so the first timed op
                                     // does not fault them in
  }
  ~HostBuffer() { std::free(data_); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  char* data() { return data_; }
  size_t size() const { return bytes_; }

 private:
  char* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace mixccl::perf

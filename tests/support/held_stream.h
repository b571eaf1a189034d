#pragma once
// A stream of the emulated GPU held by a wait on a pinned flag until release() (or the destructor) sets it: tests of
// what must not wait for every stream to drain (device/deferred_free.h).
#include <gtest/gtest.h>

#include <cstdint>

#include "support/emulated_gpu.h"

namespace mixccl::testing {

class HeldStream {
 public:
  explicit HeldStream(EmulatedGpu& gpu) : gpu_(gpu) {
    EXPECT_EQ(gpu_.allocPinned(sizeof(uint32_t), &flag_), mixcclSuccess);
    *static_cast<volatile uint32_t*>(flag_) = 0;
    EXPECT_EQ(gpu_.streamCreate(&stream_), mixcclSuccess);
    EXPECT_EQ(gpu_.streamWaitFlag(stream_, static_cast<uint32_t*>(flag_), 1), mixcclSuccess);
  }
  ~HeldStream() {
    release();
    gpu_.streamSynchronize(stream_);
    gpu_.streamDestroy(stream_);
    gpu_.freePinned(flag_);
  }
  HeldStream(const HeldStream&) = delete;
  HeldStream& operator=(const HeldStream&) = delete;
  void release() { __atomic_store_n(static_cast<uint32_t*>(flag_), 1u, __ATOMIC_RELEASE); }
  void* stream() const { return stream_; }

 private:
  EmulatedGpu& gpu_;
  void* flag_ = nullptr;
  void* stream_ = nullptr;
};

}  // namespace mixccl::testing

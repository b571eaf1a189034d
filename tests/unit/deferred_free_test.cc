// Frees that must not wait on the calling thread for the device to drain (device/deferred_free.h), on the emulated
// GPU, whose frees wait for every stream as cudaFree and cudaFreeHost do.
#include "device/deferred_free.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/emulated_gpu.h"

namespace mixccl {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A stream held by a wait on a pinned flag until release() (or the destructor) sets it.
class HeldStream {
 public:
  explicit HeldStream(testing::EmulatedGpu& gpu) : gpu_(gpu) {
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
  void release() { __atomic_store_n(static_cast<uint32_t*>(flag_), 1u, __ATOMIC_RELEASE); }

 private:
  testing::EmulatedGpu& gpu_;
  void* flag_ = nullptr;
  void* stream_ = nullptr;
};

TEST(EmulatedGpuFree, WaitsForEveryStreamToRunWhatWasQueuedBeforeIt) {
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  void* p = nullptr;
  ASSERT_EQ(gpu.allocDevice(4096, &p), mixcclSuccess);
  HeldStream held(gpu);
  const auto start = Clock::now();  // before the releaser starts: it releases 300 ms after this at the earliest
  std::thread releaser([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.release();
  });
  EXPECT_EQ(gpu.freeDevice(p), mixcclSuccess);
  EXPECT_GE(secondsSince(start), 0.25) << "freeDevice returned while a stream still held work queued before it";
  releaser.join();
}

TEST(DeferredFree, OutsideAScopeTheFreeIsMadeAtOnce) {
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  void* p = nullptr;
  ASSERT_EQ(gpu.allocDevice(4096, &p), mixcclSuccess);
  const size_t live = gpu.liveDeviceAllocations();
  freeGpuMemory(&gpu, GpuFreeKind::kDevice, p);
  EXPECT_EQ(gpu.liveDeviceAllocations(), live - 1);
  freeGpuMemory(&gpu, GpuFreeKind::kDevice, nullptr);  // nothing
  EXPECT_EQ(gpu.liveDeviceAllocations(), live - 1);
}

TEST(DeferredFree, InsideAScopeItReturnsWhileAStreamIsHeldAndTheFreeFollowsOnceTheDeviceDrains) {
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  void* device = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(gpu.allocDevice(4096, &device), mixcclSuccess);
  ASSERT_EQ(gpu.allocPinned(4096, &pinned), mixcclSuccess);
  const size_t live = gpu.liveDeviceAllocations();
  const size_t livePinned = gpu.livePinnedAllocations();
  {
    HeldStream held(gpu);
    const auto start = Clock::now();
    {
      DeferGpuFrees inBackground;
      {
        DeferGpuFrees nested;  // scopes nest
      }
      freeGpuMemory(&gpu, GpuFreeKind::kDevice, device);
      freeGpuMemory(&gpu, GpuFreeKind::kPinned, pinned);
    }
    EXPECT_LT(secondsSince(start), 0.2) << "the frees waited for the held stream on the calling thread";
    EXPECT_FALSE(waitForDeferredGpuFrees(0.3)) << "a free was made while a stream still held earlier work";
    EXPECT_EQ(gpu.liveDeviceAllocations(), live);
    EXPECT_EQ(gpu.livePinnedAllocations(), livePinned + 1);  // the held stream's flag too
    held.release();
    EXPECT_TRUE(waitForDeferredGpuFrees(10));
  }
  EXPECT_EQ(gpu.liveDeviceAllocations(), live - 1);
  EXPECT_EQ(gpu.livePinnedAllocations(), livePinned - 1);
}

}  // namespace
}  // namespace mixccl

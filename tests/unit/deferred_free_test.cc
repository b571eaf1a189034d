// Frees that must not wait on the calling thread for the device to drain (device/deferred_free.h), on the emulated
// GPU, whose frees wait for every stream as cudaFree and cudaFreeHost do.
#include "device/deferred_free.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/emulated_gpu.h"
#include "support/held_stream.h"

namespace mixccl {
namespace {

using Clock = std::chrono::steady_clock;
using testing::HeldStream;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

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

TEST(DeferredFree, AForkedChildMakesItsOwnHandedOffFrees) {
  // The parent's background thread waits for work when the fork copies the process; the child has no such thread,
  // and its copy of the thread's condition variable still counts it. The child's hand-offs must still be made.
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  void* p = nullptr;
  ASSERT_EQ(gpu.allocDevice(4096, &p), mixcclSuccess);
  {
    DeferGpuFrees inBackground;
    freeGpuMemory(&gpu, GpuFreeKind::kDevice, p);
  }
  ASSERT_TRUE(waitForDeferredGpuFrees(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the background thread is back in its wait
  const pid_t child = fork();
  if (child == 0) {
    alarm(20);  // a hang ends the child (killed by SIGALRM), which the parent reports
    // In the child the emulated streams' threads are gone: only an imported mapping, whose close waits for no
    // stream, is freed here (the child's own device memory, mapped a second time).
    for (int i = 0; i < 3; ++i) {
      void* own = nullptr;
      IpcHandle handle;
      void* mapped = nullptr;
      if (gpu.allocDevice(4096, &own) != mixcclSuccess || gpu.ipcExport(own, &handle) != mixcclSuccess ||
          gpu.ipcImport(handle, &mapped) != mixcclSuccess) {
        _exit(2);
      }
      const size_t live = gpu.liveDeviceAllocations();
      {
        DeferGpuFrees inBackground;
        freeGpuMemory(&gpu, GpuFreeKind::kImported, mapped);
      }
      if (!waitForDeferredGpuFrees(5) || gpu.liveDeviceAllocations() != live - 1) _exit(3);
    }
    _exit(0);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (WIFSIGNALED(status) ? "the child hung (killed by signal " + std::to_string(WTERMSIG(status)) + ")"
                              : "the child exited " + std::to_string(WEXITSTATUS(status)));
}

}  // namespace
}  // namespace mixccl

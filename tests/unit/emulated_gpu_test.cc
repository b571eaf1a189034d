// The emulated GPU's guard on device memory (support/device_memory_guard.h): host threads, and the threads they make,
// fault on it as on a real GPU's; the emulated device's own work (copies, kernels) still reads and writes it.
#include "support/emulated_gpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "support/device_memory_guard.h"

namespace mixccl {
namespace {

using testing::EmulatedGpu;
using testing::installEmulatedGpu;

// Skips (printing why) where the guard cannot work; else the emulated GPU, installed.
EmulatedGpu* guardedGpu() {
  if (!testing::device_guard::active()) return nullptr;
  return &installEmulatedGpu(0);
}

// The host's view of [p, p + 1): touching it must kill the process with the guard's message.
int readFromHost(const void* p) { return *static_cast<const volatile char*>(p); }

// Device memory read by the calling host thread, or by a thread it makes (as the library makes its proxies): the
// process must die saying why. Skips where the guard cannot work.
void expectHostReadDies(bool fromAThreadItMakes) {
  EmulatedGpu* gpu = guardedGpu();
  if (gpu == nullptr) GTEST_SKIP() << "device memory is not guarded here: " << testing::device_guard::reason();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* p = nullptr;
        installEmulatedGpu(0).allocDevice(4096, &p);
        if (fromAThreadItMakes) {
          std::thread([p] { readFromHost(p); }).join();
        } else {
          readFromHost(p);
        }
      },
      "a host thread touched device memory");
}

TEST(EmulatedGpuGuard, AHostThreadThatReadsDeviceMemoryFaults) { expectHostReadDies(false); }

TEST(EmulatedGpuGuard, AThreadMadeByAHostThreadFaultsToo) { expectHostReadDies(true); }

TEST(EmulatedGpuGuard, TheDeviceItselfStillReadsAndWritesIt) {
  EmulatedGpu* gpu = guardedGpu();
  if (gpu == nullptr) GTEST_SKIP() << "device memory is not guarded here: " << testing::device_guard::reason();
  void* stream = nullptr;
  ASSERT_EQ(gpu->streamCreate(&stream), mixcclSuccess);
  void *a = nullptr, *b = nullptr;
  ASSERT_EQ(gpu->allocDevice(1 << 16, &a), mixcclSuccess);
  ASSERT_EQ(gpu->allocDevice(1 << 16, &b), mixcclSuccess);
  std::vector<char> in(1 << 16), out(1 << 16, 0);
  for (size_t i = 0; i < in.size(); ++i) in[i] = char(i * 7);
  // Host to device, device to device (a copy kernel), device to host: all the device's own work.
  ASSERT_EQ(gpu->copyAsync(a, in.data(), in.size(), stream), mixcclSuccess);
  ASSERT_EQ(gpu->copyKernelAsync(b, a, in.size(), stream), mixcclSuccess);
  ASSERT_EQ(gpu->copyAsync(out.data(), b, out.size(), stream), mixcclSuccess);
  ASSERT_EQ(gpu->streamSynchronize(stream), mixcclSuccess);
  EXPECT_EQ(std::memcmp(in.data(), out.data(), in.size()), 0);
  EXPECT_EQ(gpu->freeDevice(a), mixcclSuccess);
  EXPECT_EQ(gpu->freeDevice(b), mixcclSuccess);
  EXPECT_EQ(gpu->streamDestroy(stream), mixcclSuccess);
}

}  // namespace
}  // namespace mixccl

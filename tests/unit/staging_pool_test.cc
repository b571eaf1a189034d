// The staging pool's reuse of cached pinned buffers (core/staging_pool.h), on the emulated GPU.
#include "core/staging_pool.h"

#include <gtest/gtest.h>

#include "device/deferred_free.h"
#include "support/emulated_gpu.h"

namespace mixccl {
namespace {

// Takes a buffer of `bytes` and hands it back at once (no stream work touches it).
char* takeAndGiveBack(StagingPool& pool, size_t bytes) {
  char* b = nullptr;
  EXPECT_EQ(pool.acquire(bytes, &b), mixcclSuccess);
  pool.releaseAfter({b}, {}, {});
  return b;
}

TEST(StagingPool, ARequestReusesTheSmallestCachedBufferUpToFourTimesItsSize) {
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  const size_t before = gpu.livePinnedAllocations();
  {
    StagingPool pool(&gpu, size_t(1) << 30);
    char* big = takeAndGiveBack(pool, 64 << 10);
    char* small = takeAndGiveBack(pool, 16 << 10);  // 4 times smaller than the cached one: takes it
    EXPECT_EQ(small, big);
    EXPECT_EQ(gpu.livePinnedAllocations(), before + 1);
    char* tiny = takeAndGiveBack(pool, 8 << 10);  // 8 times smaller: a buffer of its own
    EXPECT_NE(tiny, big);
    EXPECT_EQ(gpu.livePinnedAllocations(), before + 2);
    EXPECT_EQ(takeAndGiveBack(pool, 10 << 10), big) << "the smallest cached buffer that holds 10 KiB is 64 KiB";
    EXPECT_EQ(takeAndGiveBack(pool, 4 << 10), tiny) << "the smallest that holds 4 KiB is the 8 KiB one";
  }
  EXPECT_EQ(gpu.livePinnedAllocations(), before);
}

TEST(StagingPool, AtItsLimitItFreesCachedBuffersThroughTheBackgroundThread) {
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  const size_t before = gpu.livePinnedAllocations();
  {
    StagingPool pool(&gpu, 32 << 10);
    takeAndGiveBack(pool, 16 << 10);
    takeAndGiveBack(pool, 32 << 10);  // 16 + 32 KiB would pass the limit: the 16 KiB one goes
    EXPECT_TRUE(waitForDeferredGpuFrees(10));
    EXPECT_EQ(gpu.livePinnedAllocations(), before + 1);
  }
  EXPECT_EQ(gpu.livePinnedAllocations(), before);
}

}  // namespace
}  // namespace mixccl

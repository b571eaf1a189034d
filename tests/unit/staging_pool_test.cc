// The staging pool's reuse of cached pinned buffers (core/staging_pool.h), on the emulated GPU.
#include "core/staging_pool.h"

#include <gtest/gtest.h>

#include <chrono>

#include "device/deferred_free.h"
#include "support/emulated_gpu.h"
#include "support/held_stream.h"

namespace mixccl {
namespace {

// Takes a buffer of `bytes` and hands it back at once (no stream work touches it).
char* takeAndGiveBack(StagingPool& pool, size_t bytes) {
  char* b = nullptr;
  EXPECT_EQ(pool.acquire(bytes, &b), mixcclSuccess);
  pool.releaseAfter({b}, {}, {});
  return b;
}

// A buffer of `bytes` from `pool`, handed back behind `held`'s wait: pending until the stream is released.
char* pendingBehind(StagingPool& pool, testing::EmulatedGpu& gpu, testing::HeldStream& held, size_t bytes) {
  char* b = nullptr;
  EXPECT_EQ(pool.acquire(bytes, &b), mixcclSuccess);
  void* after = nullptr;
  EXPECT_EQ(gpu.eventCreate(&after), mixcclSuccess);
  EXPECT_EQ(gpu.eventRecord(after, held.stream()), mixcclSuccess);
  pool.releaseAfter({b}, {after}, {after});
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

TEST(StagingPool, CachedBuffersNeitherCountAgainstTheLimitNorAreFreedToMakeRoom) {
  // While a stream is held, a free would wait for it (as cudaFreeHost does) and hold up every other thread's launches
  // meanwhile; and the pool must not wait for the held stream's pending buffer when only cached ones fill the limit.
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  const size_t before = gpu.livePinnedAllocations();
  {
    StagingPool pool(&gpu, 64 << 10);
    char* small = takeAndGiveBack(pool, 16 << 10);
    testing::HeldStream held(gpu);  // its flag is one more pinned allocation
    pendingBehind(pool, gpu, held, 32 << 10);
    const auto start = std::chrono::steady_clock::now();
    char* more = nullptr;
    ASSERT_EQ(pool.acquire(32 << 10, &more), mixcclSuccess);  // 32 pending + 32 KiB: within 64, the 16 cached aside
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0)
        << "the pool waited for the held stream's buffer";
    EXPECT_TRUE(waitForDeferredGpuFrees(0)) << "the pool handed a free to the background thread";
    EXPECT_EQ(gpu.livePinnedAllocations(), before + 4) << "the cached 16 KiB buffer was freed";
    pool.releaseAfter({more}, {}, {});
    EXPECT_EQ(takeAndGiveBack(pool, 16 << 10), small);
    held.release();
    EXPECT_TRUE(pool.waitIdle(10));
  }
  EXPECT_EQ(gpu.livePinnedAllocations(), before);
}

TEST(StagingPool, ARequestLargerThanTheLimitIsServedWithoutWaiting) {
  // No release can make room for it: it must not wait for the pending buffers (up to 5 s) first.
  testing::EmulatedGpu& gpu = testing::installEmulatedGpu();
  StagingPool pool(&gpu, 32 << 10);
  testing::HeldStream held(gpu);
  pendingBehind(pool, gpu, held, 16 << 10);
  const auto start = std::chrono::steady_clock::now();
  char* big = nullptr;
  ASSERT_EQ(pool.acquire(64 << 10, &big), mixcclSuccess);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
  pool.releaseAfter({big}, {}, {});
  held.release();
  EXPECT_TRUE(pool.waitIdle(10));
}

}  // namespace
}  // namespace mixccl

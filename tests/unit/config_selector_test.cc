// The config registry (typed MIXCCL_* variables), the selector's MIXCCL_ALGO parsing, transport choice per pair,
// and the block/chunk arithmetic the algorithms share.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "algorithms/partition.h"
#include "core/config.h"
#include "transports/registry.h"
#include "tuning/selector.h"

namespace mixccl {
namespace {

TEST(Config, ParsesByteSizesWithPowerOf1024Suffixes) {
  int64_t v = 0;
  EXPECT_TRUE(parseBytes("123", &v));
  EXPECT_EQ(v, 123);
  EXPECT_TRUE(parseBytes("4K", &v));
  EXPECT_EQ(v, 4096);
  EXPECT_TRUE(parseBytes("16M", &v));
  EXPECT_EQ(v, 16 << 20);
  EXPECT_TRUE(parseBytes("1G", &v));
  EXPECT_EQ(v, 1LL << 30);
  EXPECT_TRUE(parseBytes("2kB", &v));
  EXPECT_EQ(v, 2048);
  EXPECT_FALSE(parseBytes("", &v));
  EXPECT_FALSE(parseBytes("12Q", &v));
  EXPECT_FALSE(parseBytes("-1", &v));
  EXPECT_FALSE(parseBytes("9999999999999G", &v));
}

TEST(Config, EnvironmentOverridesDefaultAndMalformedFallsBack) {
  setenv("MIXCCL_SHM_SLOTS", "12", 1);
  EXPECT_EQ(configInt(cfg::kShmSlots), 12);
  setenv("MIXCCL_SHM_SLOTS", "twelve", 1);
  EXPECT_EQ(configInt(cfg::kShmSlots), 8) << "a malformed value must fall back to the default";
  unsetenv("MIXCCL_SHM_SLOTS");
  EXPECT_EQ(configInt(cfg::kShmSlots), 8);
  setenv("MIXCCL_CHUNK_BYTES", "64K", 1);
  EXPECT_EQ(configInt(cfg::kChunkBytes), 64 << 10);
  unsetenv("MIXCCL_CHUNK_BYTES");
  setenv("MIXCCL_TIMEOUT", "2.5", 1);
  EXPECT_DOUBLE_EQ(configDouble(cfg::kTimeout), 2.5);
  unsetenv("MIXCCL_TIMEOUT");
}

TEST(Config, EveryVariableIsDeclaredOnceWithADescription) {
  std::set<std::string> names;
  for (const ConfigVar* var : configRegistry()) {
    EXPECT_EQ(std::string(var->name).rfind("MIXCCL_", 0), 0u) << var->name;
    EXPECT_TRUE(names.insert(var->name).second) << var->name << " declared twice";
    EXPECT_GT(std::string(var->description).size(), 10u) << var->name;
  }
  EXPECT_GE(names.size(), 11u);
}

TEST(Selector, AlgoOverrideGlobalAndPerCollective) {
  Selector s;
  ASSERT_EQ(Selector::create("ring", &s), mixcclSuccess);
  const Algorithm* a = nullptr;
  CollArgs args{CollType::kAllGather, 10, mixcclFloat32, mixcclSum, 0};
  ASSERT_EQ(s.select(args, PlanContext{0, 4, 1024}, &a), mixcclSuccess);
  EXPECT_STREQ(a->name(), "ring");
  EXPECT_EQ(Selector::create("allreduce=ring,allgather=ring", &s), mixcclSuccess);
  EXPECT_EQ(Selector::create("", &s), mixcclSuccess);
  EXPECT_EQ(Selector::create("warp", &s), mixcclInvalidUsage);
  EXPECT_EQ(Selector::create("allreduce=warp", &s), mixcclInvalidUsage);
  EXPECT_EQ(Selector::create("alltoall=ring", &s), mixcclInvalidUsage);
}

TEST(TransportChoice, SharedMemoryWithinAHostNetworkBetweenHosts) {
  uint32_t all = 0, shmOnly = 0;
  ASSERT_EQ(allowedTransports("auto", &all), mixcclSuccess);
  ASSERT_EQ(allowedTransports("shm", &shmOnly), mixcclSuccess);
  EXPECT_EQ(transportForPair(true, all), 0) << "same host: shm first";
  EXPECT_EQ(transportForPair(false, shmOnly), -1) << "shm cannot reach another host";
  int between = transportForPair(false, all);
  if (compiledTransports().size() > 1) {
    ASSERT_GT(between, 0);
    EXPECT_TRUE(compiledTransports()[between].network);
  } else {
    EXPECT_EQ(between, -1);
  }
  uint32_t m = 0;
  EXPECT_EQ(allowedTransports("shm,carrier-pigeon", &m), mixcclInvalidUsage);
  EXPECT_EQ(allowedTransports(",", &m), mixcclInvalidUsage);
}

TEST(Partition, BlocksCoverTheRangeAndDifferByAtMostOne) {
  for (uint64_t total : {0ull, 1ull, 7ull, 64ull, 1009ull}) {
    for (int n : {1, 2, 3, 7, 64}) {
      uint64_t next = 0, lo = UINT64_MAX, hi = 0;
      for (int b = 0; b < n; ++b) {
        Range r = blockRange(total, n, b);
        EXPECT_EQ(r.begin, next) << total << "/" << n << " block " << b;
        next = r.begin + r.size;
        lo = std::min(lo, r.size);
        hi = std::max(hi, r.size);
      }
      EXPECT_EQ(next, total);
      EXPECT_LE(hi - lo, 1u);
    }
  }
  EXPECT_EQ(chunkRange(10, 4, 2).size, 2u);
  EXPECT_EQ(chunkRange(10, 4, 3).size, 0u);
  EXPECT_EQ(wrap(-1, 5), 4);
}

}  // namespace
}  // namespace mixccl

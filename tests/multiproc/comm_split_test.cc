// Communicators made from others (split, shrink, init-all), non-blocking init, pre-mul-sum operators and MemAlloc
// through mixccl's C API, with forked ranks (support/rank_runner.h) or several ranks in this process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/datatype.h"
#include "support/exact_data.h"
#include "support/rank_runner.h"

namespace mixccl {
namespace {

using testing::initRankComm;
using testing::rankCheck;
using testing::runRanks;

// Checks size and rank of `comm`, then an all-reduce and an all-gather of each member's parent rank + 1.
// `members` lists the parent ranks in child order.
bool checkChild(mixcclComm_t comm, int parentRank, const std::vector<int>& members) {
  const int n = static_cast<int>(members.size());
  int count = 0, me = -1;
  bool ok = rankCheck(mixcclCommCount(comm, &count) == mixcclSuccess && count == n, parentRank, "count %d, want %d",
                      count, n);
  int want = -1;
  for (int i = 0; i < n; ++i) {
    if (members[i] == parentRank) want = i;
  }
  ok &= rankCheck(mixcclCommUserRank(comm, &me) == mixcclSuccess && me == want, parentRank, "rank %d, want %d", me,
                  want);
  const uint64_t elems = 1001;
  std::vector<int32_t> mine(elems, parentRank + 1), sum(elems), all(elems * n);
  ok &= rankCheck(mixcclAllReduce(mine.data(), sum.data(), elems, mixcclInt32, mixcclSum, comm, nullptr) ==
                      mixcclSuccess, parentRank, "all-reduce: %s", mixcclGetLastError(comm));
  int32_t wantSum = 0;
  for (int r : members) wantSum += r + 1;
  ok &= rankCheck(sum[0] == wantSum && sum[elems - 1] == wantSum, parentRank, "sum %d, want %d", sum[0], wantSum);
  ok &= rankCheck(mixcclAllGather(mine.data(), all.data(), elems, mixcclInt32, comm, nullptr) == mixcclSuccess,
                  parentRank, "all-gather: %s", mixcclGetLastError(comm));
  for (int i = 0; i < n; ++i) {
    ok &= rankCheck(all[i * elems] == members[i] + 1, parentRank, "block %d holds %d, want %d", i, all[i * elems],
                    members[i] + 1);
  }
  return ok;
}

// 6 ranks: colors rank % 2, except rank 5 (no color); keys reverse the parent order. Then the even child splits
// again, into one communicator with equal keys (parent order kept).
TEST(CommSplit, ColorsKeysAndNoColorThenSplitOfASplit) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const int color = rank == 5 ? MIXCCL_SPLIT_NOCOLOR : rank % 2;
    mixcclComm_t child = nullptr;
    bool ok = rankCheck(mixcclCommSplit(comm, color, n - rank, &child, nullptr) == mixcclSuccess, rank, "split: %s",
                        mixcclGetLastError(comm));
    if (color == MIXCCL_SPLIT_NOCOLOR) {
      ok &= rankCheck(child == nullptr, rank, "no color, yet a communicator");
    } else if (ok) {
      ok &= checkChild(child, rank, color == 0 ? std::vector<int>{4, 2, 0} : std::vector<int>{3, 1});
      if (color == 0) {
        mixcclComm_t grand = nullptr;
        ok &= rankCheck(mixcclCommSplit(child, 7, 0, &grand, nullptr) == mixcclSuccess, rank, "second split: %s",
                        mixcclGetLastError(child));
        if (grand != nullptr) {
          ok &= checkChild(grand, rank, {4, 2, 0});
          mixcclCommDestroy(grand);
        }
      }
      mixcclCommDestroy(child);
    }
    // The parent still works after its children are gone.
    ok &= checkChild(comm, rank, {0, 1, 2, 3, 4, 5});
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(6, body);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(CommSplit, AnInvalidColorFailsOnEveryRankNamingIt) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    mixcclComm_t child = nullptr;
    mixcclResult_t res = mixcclCommSplit(comm, rank == 1 ? -5 : 0, 0, &child, nullptr);
    std::string msg = mixcclGetLastError(comm);
    bool ok = rankCheck(res == mixcclInvalidArgument && msg.find("rank 1") != std::string::npos && child == nullptr,
                        rank, "result %d, message '%s'", res, msg.c_str());
    ok &= checkChild(comm, rank, {0, 1, 2});
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

// One thread drives 4 ranks made by InitAll; it splits them in a group (colors rank / 2).
TEST(CommSplit, OneThreadSplitsTheRanksOfInitAllInAGroup) {
  mixcclComm_t comms[4] = {};
  ASSERT_EQ(mixcclCommInitAll(comms, 4, nullptr), mixcclSuccess) << mixcclGetLastError(nullptr);
  mixcclComm_t halves[4] = {};
  ASSERT_EQ(mixcclGroupStart(), mixcclSuccess);
  for (int r = 0; r < 4; ++r) ASSERT_EQ(mixcclCommSplit(comms[r], r / 2, r, &halves[r], nullptr), mixcclSuccess);
  ASSERT_EQ(mixcclGroupEnd(), mixcclSuccess) << mixcclGetLastError(nullptr);
  std::vector<std::vector<float>> bufs(4, std::vector<float>(777));
  for (int r = 0; r < 4; ++r) std::fill(bufs[r].begin(), bufs[r].end(), static_cast<float>(r + 1));
  ASSERT_EQ(mixcclGroupStart(), mixcclSuccess);
  for (int r = 0; r < 4; ++r) {
    ASSERT_NE(halves[r], nullptr);
    ASSERT_EQ(mixcclAllReduce(bufs[r].data(), bufs[r].data(), 777, mixcclFloat32, mixcclSum, halves[r], nullptr),
              mixcclSuccess);
  }
  ASSERT_EQ(mixcclGroupEnd(), mixcclSuccess) << mixcclGetLastError(nullptr);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(bufs[r][776], r < 2 ? 3.0f : 7.0f) << "rank " << r;
    int me = -1;
    EXPECT_EQ(mixcclCommUserRank(halves[r], &me), mixcclSuccess);
    EXPECT_EQ(me, r % 2);
    EXPECT_EQ(mixcclCommDestroy(halves[r]), mixcclSuccess);
    EXPECT_EQ(mixcclCommDestroy(comms[r]), mixcclSuccess);
  }
}

// Rank 2 dies right after init; the others shrink it away through the parent's bootstrap and keep working.
TEST(CommShrink, SurvivorsShrinkAwayADeadRank) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    if (rank == 2) _exit(0);
    int excluded[] = {2};
    mixcclComm_t small = nullptr;
    bool ok = rankCheck(mixcclCommShrink(comm, excluded, 1, &small, nullptr, MIXCCL_SHRINK_ABORT) == mixcclSuccess,
                        rank, "shrink: %s", mixcclGetLastError(comm));
    if (small != nullptr) {
      ok &= checkChild(small, rank, {0, 1, 3});
      mixcclCommDestroy(small);
    }
    int self[] = {rank};
    ok &= rankCheck(mixcclCommShrink(comm, self, 1, &small, nullptr, 0) == mixcclInvalidUsage, rank,
                    "excluding oneself is refused");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(4, body);
  EXPECT_TRUE(result.ok) << result.report;
}

// Every type: each of 3 ranks contributes 1, the scalar is 2, so every element must be exactly 6.
TEST(PreMulSum, EveryTypeIsExactAndTheInputIsKept) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    bool ok = true;
    const uint64_t count = 5003;
    for (int t = 0; t < mixcclNumTypes; ++t) {
      const auto dt = static_cast<mixcclDataType_t>(t);
      std::vector<uint64_t> scalar(1), in(count), out(count), want(count), kept(count);
      testdata::encodeValue(scalar.data(), dt, 2.0);
      const size_t esz = dataTypeSize(dt);
      for (uint64_t i = 0; i < count; ++i) {
        testdata::encodeValue(reinterpret_cast<char*>(in.data()) + i * esz, dt, 1.0);
        testdata::encodeValue(reinterpret_cast<char*>(want.data()) + i * esz, dt, 2.0 * n);
      }
      kept = in;
      mixcclRedOp_t op;
      ok &= rankCheck(mixcclRedOpCreatePreMulSum(&op, scalar.data(), dt, mixcclScalarHostImmediate, comm) ==
                          mixcclSuccess, rank, "create for type %d: %s", t, mixcclGetLastError(comm));
      ok &= rankCheck(mixcclAllReduce(in.data(), out.data(), count, dt, op, comm, nullptr) == mixcclSuccess, rank,
                      "all-reduce type %d: %s", t, mixcclGetLastError(comm));
      ok &= rankCheck(testdata::countWrong(out.data(), want.data(), dt, count) == 0, rank, "type %d: wrong result", t);
      ok &= rankCheck(testdata::countWrong(in.data(), kept.data(), dt, count) == 0, rank, "type %d: input changed", t);
      ok &= rankCheck(mixcclRedOpDestroy(op, comm) == mixcclSuccess, rank, "destroy type %d", t);
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

// Rank 0 inits in the background while this same thread then inits rank 1: GetAsyncError says in progress, then
// success.
TEST(NonBlockingInit, InProgressThenSuccess) {
  mixcclUniqueId id;
  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclConfig_t config = MIXCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  mixcclComm_t first = nullptr, second = nullptr;
  ASSERT_EQ(mixcclCommInitRankConfig(&first, 2, id, 0, &config), mixcclInProgress) << mixcclGetLastError(nullptr);
  ASSERT_NE(first, nullptr);
  mixcclResult_t state = mixcclSuccess;
  ASSERT_EQ(mixcclCommGetAsyncError(first, &state), mixcclSuccess);
  EXPECT_EQ(state, mixcclInProgress);  // rank 1 has not joined yet
  ASSERT_EQ(mixcclCommInitRank(&second, 2, id, 1), mixcclSuccess) << mixcclGetLastError(nullptr);
  for (int i = 0; i < 10000 && state == mixcclInProgress; ++i) {
    ASSERT_EQ(mixcclCommGetAsyncError(first, &state), mixcclSuccess);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(state, mixcclSuccess);
  std::vector<int64_t> a(100, 5), b(100, 6);
  ASSERT_EQ(mixcclGroupStart(), mixcclSuccess);
  ASSERT_EQ(mixcclAllReduce(a.data(), a.data(), 100, mixcclInt64, mixcclSum, first, nullptr), mixcclSuccess);
  ASSERT_EQ(mixcclAllReduce(b.data(), b.data(), 100, mixcclInt64, mixcclSum, second, nullptr), mixcclSuccess);
  ASSERT_EQ(mixcclGroupEnd(), mixcclSuccess) << mixcclGetLastError(nullptr);
  EXPECT_EQ(a[99], 11);
  EXPECT_EQ(b[0], 11);
  EXPECT_EQ(mixcclCommDestroy(first), mixcclSuccess);
  EXPECT_EQ(mixcclCommDestroy(second), mixcclSuccess);
}

// Rank 1 never comes: destroying the initializing handle returns at once; a failed init is reported by
// GetAsyncError and by the next call, which names itself.
TEST(NonBlockingInit, DestroyWhileInitializingAndAFailedInit) {
  mixcclConfig_t config = MIXCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  config.timeoutMs = 1000;
  mixcclUniqueId id;
  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclComm_t abandoned = nullptr;
  ASSERT_EQ(mixcclCommInitRankConfig(&abandoned, 2, id, 0, &config), mixcclInProgress);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(mixcclCommDestroy(abandoned), mixcclSuccess);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200)) << "destroy waited";

  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclComm_t failing = nullptr;
  ASSERT_EQ(mixcclCommInitRankConfig(&failing, 2, id, 0, &config), mixcclInProgress);
  mixcclResult_t state = mixcclInProgress;
  for (int i = 0; i < 1000 && state == mixcclInProgress; ++i) {
    ASSERT_EQ(mixcclCommGetAsyncError(failing, &state), mixcclSuccess);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(state, mixcclInProgress);
  EXPECT_NE(state, mixcclSuccess);
  int count = 0;
  EXPECT_EQ(mixcclCommCount(failing, &count), state);
  EXPECT_NE(std::string(mixcclGetLastError(failing)).find("mixcclCommCount"), std::string::npos)
      << mixcclGetLastError(failing);
  EXPECT_EQ(mixcclCommDestroy(failing), mixcclSuccess);
  // Let the abandoned init time out and free itself before the process goes on.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
}

TEST(MemAlloc, PageAlignedHostMemoryAndForeignPointersRefused) {
  void* p = nullptr;
  ASSERT_EQ(mixcclMemAlloc(&p, 10000), mixcclSuccess);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % sysconf(_SC_PAGESIZE), 0u);
  memset(p, 1, 10000);
  int onStack = 0;
  EXPECT_EQ(mixcclMemFree(&onStack), mixcclInvalidArgument);
  EXPECT_EQ(mixcclMemFree(p), mixcclSuccess);
  EXPECT_EQ(mixcclMemFree(p), mixcclInvalidArgument) << "a double free was accepted";
  EXPECT_EQ(mixcclMemAlloc(&p, 0), mixcclInvalidArgument);
  EXPECT_EQ(mixcclMemAlloc(nullptr, 8), mixcclInvalidArgument);
}

}  // namespace
}  // namespace mixccl

// Point-to-point over shared memory: sends and receives in groups (exchanges that would deadlock if run one after
// the other), all-to-all, gather and scatter built from them, self messages, and argument checks.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "support/exact_data.h"
#include "support/rank_runner.h"

namespace mixccl {
namespace {

using testing::initRankComm;
using testing::rankCheck;
using testing::runRanks;

// The count elements rank `from` sends to rank `to`: distinct per pair and index.
void fillBlock(void* buf, mixcclDataType_t dt, int from, int to, int n, uint64_t count) {
  testdata::fillInput(buf, false, mixcclSum, dt, from, n, static_cast<uint64_t>(to) * count, count);
}

TEST(PointToPoint, RingExchangeOfLargeMessagesInOneGroup) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t count = 3 << 20;  // 12 MiB of floats: far more than the FIFOs hold
    const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    std::vector<float> out(count), in(count), want(count);
    fillBlock(out.data(), mixcclFloat32, rank, next, n, count);
    fillBlock(want.data(), mixcclFloat32, prev, rank, n, count);
    bool ok = mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclSend(out.data(), count, mixcclFloat32, next, comm, nullptr) == mixcclSuccess;
    ok &= mixcclRecv(in.data(), count, mixcclFloat32, prev, comm, nullptr) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    if (!rankCheck(ok, rank, "group failed: %s", mixcclGetLastError(comm))) return 1;
    ok = rankCheck(testdata::countWrong(in.data(), want.data(), mixcclFloat32, count) == 0, rank, "wrong data");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  for (int n : {2, 3, 5}) {
    auto result = runRanks(n, body);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

TEST(PointToPoint, AllToAllGatherScatterAreExact) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    int failures = 0;
    for (mixcclDataType_t dt : {mixcclInt8, mixcclFloat16, mixcclFloat32, mixcclFloat64}) {
      const size_t esz = dataTypeSize(dt);
      for (uint64_t count : {0ull, 1ull, 1009ull, 100003ull}) {
        std::vector<char> send(count * n * esz + 1), recv(count * n * esz + 1, 0x5a), want(count * n * esz + 1, 0x5a);
        // All-to-all: block r of my send goes to r; block s of my receive comes from s.
        for (int r = 0; r < n; ++r) fillBlock(send.data() + r * count * esz, dt, rank, r, n, count);
        for (int s = 0; s < n; ++s) fillBlock(want.data() + s * count * esz, dt, s, rank, n, count);
        bool ok = mixcclAllToAll(send.data(), recv.data(), count, dt, comm, nullptr) == mixcclSuccess;
        ok = ok && testdata::countWrong(recv.data(), want.data(), dt, count * n) == 0;
        failures += !rankCheck(ok, rank, "all-to-all %s count %llu: %s", dataTypeName(dt),
                               static_cast<unsigned long long>(count), mixcclGetLastError(comm));
        for (int root : {0, n - 1}) {
          // Gather: my block for the root (the one I would send to `root`) lands at block `rank` of its buffer.
          std::fill(recv.begin(), recv.end(), 0x5a);
          ok = mixcclGather(send.data() + root * count * esz, recv.data(), count, dt, root, comm, nullptr) ==
               mixcclSuccess;
          if (ok && rank == root) ok = testdata::countWrong(recv.data(), want.data(), dt, count * n) == 0;
          failures += !rankCheck(ok, rank, "gather %s count %llu root %d: %s", dataTypeName(dt),
                                 static_cast<unsigned long long>(count), root, mixcclGetLastError(comm));
          // Scatter: block r of the root's send lands in rank r.
          std::vector<char> mine(count * esz + 1, 0x5a), expect(count * esz + 1, 0x5a);
          fillBlock(expect.data(), dt, root, rank, n, count);
          ok = mixcclScatter(send.data(), mine.data(), count, dt, root, comm, nullptr) == mixcclSuccess;
          ok = ok && testdata::countWrong(mine.data(), expect.data(), dt, count) == 0;
          failures += !rankCheck(ok, rank, "scatter %s count %llu root %d: %s", dataTypeName(dt),
                                 static_cast<unsigned long long>(count), root, mixcclGetLastError(comm));
          if (failures > 3) return 1;
        }
      }
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  for (int n : {1, 2, 3, 4}) {
    auto result = runRanks(n, body);
    EXPECT_TRUE(result.ok) << n << " ranks:\n" << result.report;
  }
}

TEST(PointToPoint, SeveralMessagesToOnePeerArriveInOrderAndSelfMessagesCopy) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const int peer = 1 - rank;
    std::vector<int32_t> a(300000, rank * 10 + 1), b(7, rank * 10 + 2), self(5, 77);
    std::vector<int32_t> ra(300000), rb(7), rself(5);
    bool ok = mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclSend(a.data(), a.size(), mixcclInt32, peer, comm, nullptr) == mixcclSuccess;
    ok &= mixcclSend(b.data(), b.size(), mixcclInt32, peer, comm, nullptr) == mixcclSuccess;
    ok &= mixcclSend(self.data(), self.size(), mixcclInt32, rank, comm, nullptr) == mixcclSuccess;
    ok &= mixcclRecv(ra.data(), ra.size(), mixcclInt32, peer, comm, nullptr) == mixcclSuccess;
    ok &= mixcclRecv(rself.data(), rself.size(), mixcclInt32, rank, comm, nullptr) == mixcclSuccess;
    ok &= mixcclRecv(rb.data(), rb.size(), mixcclInt32, peer, comm, nullptr) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    if (!rankCheck(ok, rank, "group: %s", mixcclGetLastError(comm))) return 1;
    ok &= rankCheck(ra.front() == peer * 10 + 1 && ra.back() == peer * 10 + 1, rank, "first message wrong");
    ok &= rankCheck(rb.front() == peer * 10 + 2 && rb.back() == peer * 10 + 2, rank, "second message wrong");
    ok &= rankCheck(rself == self, rank, "self message wrong");
    // Argument checks: nothing is sent.
    ok &= rankCheck(mixcclSend(a.data(), 1, mixcclInt32, n, comm, nullptr) == mixcclInvalidArgument, rank,
                    "peer out of range accepted");
    ok &= rankCheck(mixcclRecv(nullptr, 1, mixcclInt32, peer, comm, nullptr) == mixcclInvalidArgument, rank,
                    "NULL receive buffer accepted");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(2, body);
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

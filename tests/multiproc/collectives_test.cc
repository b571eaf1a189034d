// Forked ranks over shared memory: every collective x rank count 2..8 (one test each), and inside each rank
// every data type x operator x in/out of place x awkward counts, checked exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "engine/coll_args.h"
#include "support/exact_data.h"
#include "support/collective_check.h"
#include "support/rank_runner.h"

namespace mixccl {
namespace {

using testing::rankCheck;
using testing::runRanks;

struct MatrixCase {
  CollType coll;
  int nranks;
};

void PrintTo(const MatrixCase& c, std::ostream* os) { *os << collName(c.coll) << " x " << c.nranks << " ranks"; }

class CollectiveMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(CollectiveMatrix, EveryTypeOpCountAndPlacementIsExact) {
  const MatrixCase mc = GetParam();
  auto body = [mc](int rank, int n, const mixcclUniqueId& id) {
    const testing::CollectiveMatrix m{{mixcclInt8, mixcclUint8, mixcclInt32, mixcclUint32, mixcclInt64, mixcclUint64,
                                          mixcclFloat16, mixcclFloat32, mixcclFloat64, mixcclBfloat16,
                                          mixcclFloat8e4m3, mixcclFloat8e5m2},
                                         {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg},
                                         {0, 1, static_cast<uint64_t>(n - 1), static_cast<uint64_t>(n),
                                          static_cast<uint64_t>(n + 1), 1009},
                                         100003};
    return testing::runCollectiveMatrix(rank, n, id, mc.coll, m);
  };
  auto result = runRanks(mc.nranks, body, 240);
  EXPECT_TRUE(result.ok) << result.report;
}

std::vector<MatrixCase> matrixCases() {
  std::vector<MatrixCase> cases;
  for (int c = 0; c < kNumCollTypes; ++c) {
    for (int n = 2; n <= 8; ++n) cases.push_back({static_cast<CollType>(c), n});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shm, CollectiveMatrix, ::testing::ValuesIn(matrixCases()),
                         [](const ::testing::TestParamInfo<MatrixCase>& info) {
                           return std::string(collName(info.param.coll)) + "_" + std::to_string(info.param.nranks) +
                                  "ranks";
                         });

// Several collectives of one communicator in one group complete in GroupEnd, each exact.
TEST(CollectiveGroup, MixedCollectivesInOneGroup) {
  auto body = [](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = nullptr;
    if (!rankCheck(mixcclCommInitRank(&comm, n, id, rank) == mixcclSuccess, rank, "init: %s",
                   mixcclGetLastError(nullptr)))
      return 1;
    const uint64_t count = 4099;
    std::vector<float> arSend(count), arRecv(count), arWant(count);
    std::vector<int32_t> agSend(count), agRecv(count * n), agWant(count * n);
    testdata::fillSend(0, arSend.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(0, arWant.data(), count, mixcclFloat32, mixcclSum, 0, rank, n);
    testdata::fillSend(1, agSend.data(), count, mixcclInt32, mixcclSum, 0, rank, n);
    testdata::fillExpectedRecv(1, agWant.data(), count, mixcclInt32, mixcclSum, 0, rank, n);
    bool ok = mixcclGroupStart() == mixcclSuccess;
    ok &= mixcclAllReduce(arSend.data(), arRecv.data(), count, mixcclFloat32, mixcclSum, comm, nullptr) ==
          mixcclSuccess;
    ok &= mixcclAllGather(agSend.data(), agRecv.data(), count, mixcclInt32, comm, nullptr) == mixcclSuccess;
    ok &= mixcclGroupEnd() == mixcclSuccess;
    if (!rankCheck(ok, rank, "group failed: %s", mixcclGetLastError(comm))) return 1;
    ok &= rankCheck(testdata::countWrong(arRecv.data(), arWant.data(), mixcclFloat32, count) == 0, rank,
                    "all-reduce in group wrong");
    ok &= rankCheck(testdata::countWrong(agRecv.data(), agWant.data(), mixcclInt32, count * n) == 0, rank,
                    "all-gather in group wrong");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  };
  auto result = runRanks(3, body);
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

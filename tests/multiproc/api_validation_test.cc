// Argument validation of the C API: bad input returns mixcclInvalidArgument / mixcclInvalidUsage with a message,
// and touches nothing.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/unique_id.h"
#include "support/rank_runner.h"

namespace mixccl {
namespace {

// A one-rank communicator in this process.
class OneRank : public ::testing::Test {
 protected:
  void SetUp() override {
    mixcclUniqueId id;
    ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
    ASSERT_EQ(mixcclCommInitRank(&comm_, 1, id, 0), mixcclSuccess) << mixcclGetLastError(nullptr);
  }
  void TearDown() override {
    if (comm_ != nullptr) {
      EXPECT_EQ(mixcclCommDestroy(comm_), mixcclSuccess);
    }
  }
  void expectError(mixcclResult_t got, mixcclResult_t want, const char* mentions) {
    EXPECT_EQ(got, want);
    std::string msg = mixcclGetLastError(comm_);
    EXPECT_NE(msg.find(mentions), std::string::npos) << "message: " << msg;
  }
  mixcclComm_t comm_ = nullptr;
};

TEST_F(OneRank, CollectivesOnOneRankCopy) {
  std::vector<float> a(100, 3.0f), b(100, 0.0f);
  ASSERT_EQ(mixcclAllReduce(a.data(), b.data(), 100, mixcclFloat32, mixcclAvg, comm_, nullptr), mixcclSuccess);
  EXPECT_EQ(b, a);
  int n = 0, r = -1;
  EXPECT_EQ(mixcclCommCount(comm_, &n), mixcclSuccess);
  EXPECT_EQ(mixcclCommUserRank(comm_, &r), mixcclSuccess);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(r, 0);
  int device = 7;
  expectError(mixcclCommDevice(comm_, &device), mixcclInvalidUsage, "has no GPU");
  EXPECT_EQ(device, 7);
}

// The pointer mixcclGetLastError returns stays valid and shows the newest message, also when it was fetched
// before the failing call (argument evaluation order in an expression like check(call() == ok, getLastError())).
TEST_F(OneRank, LastErrorPointerTakenBeforeTheFailureShowsIt) {
  const char* early = mixcclGetLastError(comm_);
  float x = 0;
  ASSERT_EQ(mixcclAllReduce(nullptr, &x, 1, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclInvalidArgument);
  EXPECT_EQ(early, mixcclGetLastError(comm_));
  EXPECT_NE(std::string(early).find("mixcclAllReduce"), std::string::npos) << early;
}

TEST_F(OneRank, NullBuffersAreInvalid) {
  float x = 0;
  expectError(mixcclAllReduce(nullptr, &x, 1, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclInvalidArgument,
              "sendbuff");
  expectError(mixcclAllReduce(&x, nullptr, 1, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclInvalidArgument,
              "recvbuff");
  // count 0 with NULL buffers is a valid no-op, as in NCCL.
  EXPECT_EQ(mixcclAllReduce(nullptr, nullptr, 0, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclSuccess);
}

TEST_F(OneRank, BadTypeOpRootAndCommAreInvalid) {
  float x = 1, y = 0;
  expectError(mixcclAllReduce(&x, &y, 1, static_cast<mixcclDataType_t>(mixcclNumTypes), mixcclSum, comm_, nullptr),
              mixcclInvalidArgument, "datatype");
  expectError(mixcclAllReduce(&x, &y, 1, mixcclFloat32, static_cast<mixcclRedOp_t>(mixcclNumOps), comm_, nullptr),
              mixcclInvalidArgument, "op");
  expectError(mixcclBroadcast(&x, &y, 1, mixcclFloat32, 1, comm_, nullptr), mixcclInvalidArgument, "root");
  expectError(mixcclAllReduce(&x, &y, 1, mixcclFloat32, mixcclSum, nullptr, nullptr), mixcclInvalidArgument, "comm");
  EXPECT_EQ(y, 0.0f) << "a rejected call wrote its output";
}

TEST_F(OneRank, CountOverflowIsInvalid) {
  float x = 0, y = 0;
  expectError(mixcclAllReduce(&x, &y, SIZE_MAX / 2, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclInvalidArgument,
              "overflow");
  expectError(mixcclAllGather(&x, &y, SIZE_MAX / 3, mixcclFloat64, comm_, nullptr), mixcclInvalidArgument, "overflow");
}

TEST_F(OneRank, OverlappingBuffersThatAreNotInPlaceAreInvalid) {
  std::vector<float> buf(64, 1.0f);
  expectError(mixcclAllReduce(buf.data(), buf.data() + 1, 32, mixcclFloat32, mixcclSum, comm_, nullptr),
              mixcclInvalidArgument, "overlap");
}

TEST_F(OneRank, FinalizedCommunicatorRefusesCollectives) {
  float x = 1, y = 0;
  ASSERT_EQ(mixcclCommFinalize(comm_), mixcclSuccess);
  expectError(mixcclAllReduce(&x, &y, 1, mixcclFloat32, mixcclSum, comm_, nullptr), mixcclInvalidUsage, "finalized");
}

TEST(ApiValidation, InitArgumentsAreChecked) {
  mixcclUniqueId id;
  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclComm_t comm = nullptr;
  EXPECT_EQ(mixcclCommInitRank(&comm, 2, id, 2), mixcclInvalidArgument);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("rank"), std::string::npos);
  EXPECT_EQ(mixcclCommInitRank(&comm, 2, id, -1), mixcclInvalidArgument);
  EXPECT_EQ(mixcclCommInitRank(&comm, 0, id, 0), mixcclInvalidArgument);
  EXPECT_EQ(mixcclCommInitRank(nullptr, 1, id, 0), mixcclInvalidArgument);
  mixcclConfig_t bad = MIXCCL_CONFIG_INITIALIZER;
  bad.magic = 0;
  EXPECT_EQ(mixcclCommInitRankConfig(&comm, 1, id, 0, &bad), mixcclInvalidArgument);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("MIXCCL_CONFIG_INITIALIZER"), std::string::npos);
  EXPECT_EQ(comm, nullptr) << "a failed init wrote its output";
  // The id was not consumed by the rejected calls: it still creates the communicator.
  ASSERT_EQ(mixcclCommInitRank(&comm, 1, id, 0), mixcclSuccess) << mixcclGetLastError(nullptr);
  EXPECT_EQ(mixcclCommDestroy(comm), mixcclSuccess);
}

TEST(ApiValidation, GarbageUniqueIdIsInvalid) {
  mixcclUniqueId id;
  memset(&id, 0x42, sizeof(id));
  mixcclComm_t comm = nullptr;
  EXPECT_EQ(mixcclCommInitRank(&comm, 1, id, 0), mixcclInvalidArgument);
  EXPECT_STRNE(mixcclGetLastError(nullptr), "");
}

TEST(ApiValidation, ReusedUniqueIdFailsClearly) {
  mixcclUniqueId id;
  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclComm_t first = nullptr, second = nullptr;
  ASSERT_EQ(mixcclCommInitRank(&first, 1, id, 0), mixcclSuccess);
  mixcclResult_t res = mixcclCommInitRank(&second, 1, id, 0);
  EXPECT_TRUE(res == mixcclInvalidUsage || res == mixcclRemoteError) << res;
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("already used"), std::string::npos) << mixcclGetLastError(nullptr);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(mixcclCommDestroy(first), mixcclSuccess);
}

TEST(ApiValidation, ForgedSecretIsRefusedAndTheRealRanksStillJoin) {
  mixcclUniqueId real;
  ASSERT_EQ(mixcclGetUniqueId(&real), mixcclSuccess);
  UniqueId decoded;
  ASSERT_EQ(decodeUniqueId(real, &decoded), mixcclSuccess);
  decoded.secret[0] ^= 0xff;  // same root, wrong secret, valid checksum
  mixcclUniqueId forged;
  encodeUniqueId(decoded, &forged);
  mixcclConfig_t config = MIXCCL_CONFIG_INITIALIZER;
  config.timeoutMs = 3000;
  mixcclComm_t comm = nullptr;
  EXPECT_NE(mixcclCommInitRankConfig(&comm, 1, forged, 0, &config), mixcclSuccess);
  EXPECT_STRNE(mixcclGetLastError(nullptr), "");
  EXPECT_EQ(comm, nullptr);
  ASSERT_EQ(mixcclCommInitRank(&comm, 1, real, 0), mixcclSuccess) << mixcclGetLastError(nullptr);
  EXPECT_EQ(mixcclCommDestroy(comm), mixcclSuccess);
}

TEST(ApiValidation, RanksThatWouldCutCallsDifferentlyFailInitNamingTheSetting) {
  // MIXCCL_STAGED_PIECE_BYTES decides how large calls are cut into pieces (core/pieces.h): ranks that disagree could
  // pair messages of different pieces without a size to tell, so init refuses.
  auto result = testing::runRanks(2, [](int rank, int n, const mixcclUniqueId& id) -> int {
    setenv("MIXCCL_STAGED_PIECE_BYTES", rank == 0 ? "1M" : "2M", 1);
    mixcclComm_t comm = nullptr;
    const mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
    const std::string message = mixcclGetLastError(nullptr);
    if (comm != nullptr) mixcclCommDestroy(comm);
    return testing::rankCheck(res == mixcclInvalidUsage && message.find("MIXCCL_STAGED_PIECE_BYTES differs") !=
                                                               std::string::npos,
                              rank, "init gave %d: %s", int(res), message.c_str())
               ? 0
               : 1;
  });
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(ApiValidation, GroupEndWithoutStartIsInvalidUsage) {
  EXPECT_EQ(mixcclGroupEnd(), mixcclInvalidUsage);
  EXPECT_STRNE(mixcclGetLastError(nullptr), "");
}

TEST(ApiValidation, ErrorStringsAndVersion) {
  EXPECT_STREQ(mixcclGetErrorString(mixcclSuccess), "no error");
  EXPECT_STREQ(mixcclGetErrorString(mixcclInvalidArgument), "invalid argument");
  int version = 0;
  EXPECT_EQ(mixcclGetVersion(&version), mixcclSuccess);
  EXPECT_EQ(version, MIXCCL_VERSION_CODE);
  // The numeric values of nccl.h 2.28.
  EXPECT_EQ(mixcclInProgress, 7);
  EXPECT_EQ(mixcclBfloat16, 9);
  EXPECT_EQ(mixcclFloat8e5m2, 11);
  EXPECT_EQ(mixcclAvg, 4);
}

// Group init: one thread creates every rank of a communicator between GroupStart and GroupEnd.
TEST(ApiValidation, OneThreadInitsSeveralRanksInAGroup) {
  mixcclUniqueId id;
  ASSERT_EQ(mixcclGetUniqueId(&id), mixcclSuccess);
  mixcclComm_t comms[3] = {};
  ASSERT_EQ(mixcclGroupStart(), mixcclSuccess);
  for (int r = 0; r < 3; ++r) ASSERT_EQ(mixcclCommInitRank(&comms[r], 3, id, r), mixcclSuccess);
  ASSERT_EQ(mixcclGroupEnd(), mixcclSuccess) << mixcclGetLastError(nullptr);
  std::vector<std::vector<int32_t>> bufs(3, std::vector<int32_t>(1000));
  for (int r = 0; r < 3; ++r) std::fill(bufs[r].begin(), bufs[r].end(), r + 1);
  ASSERT_EQ(mixcclGroupStart(), mixcclSuccess);
  for (int r = 0; r < 3; ++r) {
    ASSERT_EQ(mixcclAllReduce(bufs[r].data(), bufs[r].data(), 1000, mixcclInt32, mixcclSum, comms[r], nullptr),
              mixcclSuccess);
  }
  ASSERT_EQ(mixcclGroupEnd(), mixcclSuccess) << mixcclGetLastError(nullptr);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(bufs[r][0], 6);
    EXPECT_EQ(bufs[r][999], 6);
    EXPECT_EQ(mixcclCommDestroy(comms[r]), mixcclSuccess);
  }
}

}  // namespace
}  // namespace mixccl

// core/pieces.h: which calls are cut at a piece size, into what, and that the pieces cover the call once.
#include "core/pieces.h"

#include <gtest/gtest.h>

#include <vector>

namespace mixccl {
namespace {

constexpr int64_t k1M = 1 << 20;

TEST(Pieces, OnlyLargeAllReduceBroadcastAndReduceAreCutInAlignedPieces) {
  EXPECT_EQ(pieceElements(CollArgs{CollType::kAllReduce, (1 << 18) + 1, mixcclFloat32, mixcclSum, 0}, k1M), 1u << 18);
  EXPECT_EQ(pieceElements(CollArgs{CollType::kBroadcast, 1 << 20, mixcclBfloat16, mixcclSum, 0}, k1M), 1u << 19);
  EXPECT_EQ(pieceElements(CollArgs{CollType::kReduce, 1 << 20, mixcclFloat64, mixcclSum, 0}, k1M), 1u << 17);
  EXPECT_EQ(pieceElements(CollArgs{CollType::kAllReduce, 1 << 18, mixcclFloat32, mixcclSum, 0}, k1M), 0u)
      << "a call of exactly one piece is not cut";
  EXPECT_EQ(pieceElements(CollArgs{CollType::kAllGather, 1 << 24, mixcclFloat32, mixcclSum, 0}, k1M), 0u);
  EXPECT_EQ(pieceElements(CollArgs{CollType::kReduceScatter, 1 << 24, mixcclFloat32, mixcclSum, 0}, k1M), 0u);
  // Rounded down to whole 4 KiB.
  EXPECT_EQ(pieceElements(CollArgs{CollType::kAllReduce, 1 << 20, mixcclFloat32, mixcclSum, 0}, 5000), 1024u);
}

TEST(Pieces, ZeroOrLessNeverCuts) {
  for (int64_t off : {int64_t(0), int64_t(-1)}) {
    EXPECT_EQ(pieceElements(CollArgs{CollType::kAllReduce, uint64_t(1) << 30, mixcclFloat32, mixcclSum, 0}, off), 0u);
  }
}

TEST(Pieces, ThePiecesCoverTheCallOnceInOrderAndKeepNullBuffersNull) {
  const CollArgs args{CollType::kBroadcast, 2500, mixcclFloat32, mixcclSum, 1};  // 10000 bytes: 1024 + 1024 + 452
  std::vector<float> recv(args.count);
  std::vector<uint64_t> counts;
  uint64_t next = 0;
  Result r = forEachPiece(args, 4096, nullptr, recv.data(), [&](const CollArgs& a, const void* s, void* rp) {
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(rp, recv.data() + next);
    EXPECT_EQ(a.type, args.type);
    EXPECT_EQ(a.root, args.root);
    counts.push_back(a.count);
    next += a.count;
    return mixcclSuccess;
  });
  EXPECT_EQ(r, mixcclSuccess);
  EXPECT_EQ(counts, (std::vector<uint64_t>{1024, 1024, 452}));
  // The first error stops the walk and is returned.
  int calls = 0;
  r = forEachPiece(args, 4096, nullptr, recv.data(), [&](const CollArgs&, const void*, void*) {
    ++calls;
    return mixcclInternalError;
  });
  EXPECT_EQ(r, mixcclInternalError);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace mixccl

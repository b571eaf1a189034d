// The algorithms' cost estimates: the same on every rank, positive when there is something to move, growing with
// the size, and ranking the schedules as their shapes say (latency terms: direct 1 round, tree and rhd log2 n
// rounds, ring n-1 or 2(n-1) rounds).
#include <gtest/gtest.h>

#include <string>

#include "algorithms/registry.h"
#include "topology/cluster_view.h"

namespace mixccl {
namespace {

double estimateOf(const char* algo, CollType coll, uint64_t count, int n, int rank, const ClusterView& view) {
  const Algorithm* a = findAlgorithm(algo);
  EXPECT_NE(a, nullptr) << algo;
  if (a == nullptr) return 0;
  CollArgs args{coll, count, mixcclFloat32, mixcclSum, 0};
  PlanContext ctx{rank, n, 128 << 10, &view};
  EXPECT_TRUE(a->supports(args, ctx)) << algo << " " << collName(coll) << " n=" << n;
  return a->estimate(args, ctx);
}

TEST(AlgorithmEstimate, SameOnEveryRankPositiveAndGrowingWithSize) {
  for (int n : {2, 5, 8, 64}) {
    const ClusterView view = ClusterView::singleHost(n);
    for (const Algorithm* a : allAlgorithms()) {
      for (int c = 0; c < kNumCollTypes; ++c) {
        CollArgs args{static_cast<CollType>(c), 1000, mixcclFloat32, mixcclSum, 1};
        if (!a->supports(args, PlanContext{0, n, 128 << 10, &view})) continue;
        const double t0 = a->estimate(args, PlanContext{0, n, 128 << 10, &view});
        const double tLast = a->estimate(args, PlanContext{n - 1, n, 128 << 10, &view});
        EXPECT_EQ(t0, tLast) << a->name() << " " << collName(args.type) << " n=" << n;
        EXPECT_GT(t0, 0) << a->name() << " " << collName(args.type) << " n=" << n;
        CollArgs bigger = args;
        bigger.count = 1 << 22;
        EXPECT_GT(a->estimate(bigger, PlanContext{0, n, 128 << 10, &view}), t0)
            << a->name() << " " << collName(args.type) << " n=" << n;
      }
    }
  }
}

TEST(AlgorithmEstimate, LatencyBoundSchedulesBeatTheRingOnSmallMessages) {
  const ClusterView host8 = ClusterView::singleHost(8);
  const double ring8 = estimateOf("ring", CollType::kAllReduce, 2, 8, 0, host8);
  EXPECT_LT(estimateOf("direct", CollType::kAllReduce, 2, 8, 0, host8), ring8);
  EXPECT_LT(estimateOf("rhd", CollType::kAllReduce, 2, 8, 0, host8), ring8);
  const ClusterView hosts64 = ClusterView::hostPerRank(64);
  EXPECT_LT(estimateOf("tree", CollType::kAllReduce, 2, 64, 0, hosts64),
            estimateOf("ring", CollType::kAllReduce, 2, 64, 0, hosts64));
  EXPECT_LT(estimateOf("tree", CollType::kBroadcast, 2, 64, 0, hosts64),
            estimateOf("ring", CollType::kBroadcast, 2, 64, 0, hosts64));
  EXPECT_LT(estimateOf("rhd", CollType::kAllGather, 2, 64, 0, hosts64),
            estimateOf("ring", CollType::kAllGather, 2, 64, 0, hosts64));
}

TEST(AlgorithmEstimate, DirectLosesOnLargeMessages) {
  // 256 MiB on 16 ranks of a host: direct sends the whole vector to every peer, n-1 times what the ring moves.
  const ClusterView host16 = ClusterView::singleHost(16);
  const uint64_t count = 64ull << 20;
  EXPECT_LT(estimateOf("ring", CollType::kAllReduce, count, 16, 0, host16),
            estimateOf("direct", CollType::kAllReduce, count, 16, 0, host16));
  EXPECT_LT(estimateOf("rhd", CollType::kAllReduce, count, 16, 0, host16),
            estimateOf("direct", CollType::kAllReduce, count, 16, 0, host16));
}

TEST(AlgorithmEstimate, DirectDeclinesSeveralHostsAndMoreThan64Ranks) {
  const Algorithm* direct = findAlgorithm("direct");
  ASSERT_NE(direct, nullptr);
  CollArgs args{CollType::kAllReduce, 8, mixcclFloat32, mixcclSum, 0};
  const ClusterView hosts = ClusterView::hostPerRank(4);
  const ClusterView big = ClusterView::singleHost(65);
  const ClusterView ok = ClusterView::singleHost(64);
  EXPECT_FALSE(direct->supports(args, PlanContext{0, 4, 128 << 10, &hosts}));
  EXPECT_FALSE(direct->supports(args, PlanContext{0, 65, 128 << 10, &big}));
  EXPECT_TRUE(direct->supports(args, PlanContext{0, 64, 128 << 10, &ok}));
  EXPECT_TRUE(direct->supports(args, PlanContext{0, 8, 128 << 10, nullptr}));
}

}  // namespace
}  // namespace mixccl

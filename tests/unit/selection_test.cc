// The cost-model selector on described clusters (tests/fixtures/clusters): it picks the algorithm the cost model
// ranks first, the same on every rank, honours MIXCCL_ALGO globally and per collective, and falls back when the
// forced algorithm declines.
#include <gtest/gtest.h>

#include <string>

#include "algorithms/registry.h"
#include "core/datatype.h"
#include "topology/cluster_file.h"
#include "tuning/selection_table.h"
#include "tuning/selector.h"

#ifndef MIXCCL_FIXTURES_DIR
#error "MIXCCL_FIXTURES_DIR must point at tests/fixtures"
#endif

namespace mixccl {
namespace {

ClusterView loadFixture(const char* name) {
  ClusterView v;
  const std::string path = std::string(MIXCCL_FIXTURES_DIR) + "/clusters/" + name;
  EXPECT_EQ(loadClusterFile(path, &v), mixcclSuccess) << mixcclGetLastError(nullptr);
  return v;
}

// The cheapest supporting candidate, first in registry order on a tie: what the cost model says.
const Algorithm* cheapest(const CollArgs& args, const PlanContext& ctx) {
  const Algorithm* best = nullptr;
  double seconds = 0;
  for (const Candidate& c : Selector::candidates(args, ctx)) {
    if (c.supported && (best == nullptr || c.seconds < seconds)) {
      best = c.algo;
      seconds = c.seconds;
    }
  }
  return best;
}

class DescribedCluster : public testing::TestWithParam<const char*> {};

TEST_P(DescribedCluster, SelectorPicksTheCheapestModelledAlgorithmOnEveryRank) {
  ClusterView view = loadFixture(GetParam());
  const int n = view.nranks();
  Selector selector;
  ASSERT_EQ(Selector::create("", &selector), mixcclSuccess);
  for (int c = 0; c < kNumCollTypes; ++c) {
    for (uint64_t bytes = 8; bytes <= (1ull << 30); bytes *= 8) {
      CollArgs args{static_cast<CollType>(c), bytes / 4, mixcclFloat32, mixcclSum, 0};
      PlanContext ctx0{0, n, 128 << 10, &view};
      const Algorithm* want = cheapest(args, ctx0);
      ASSERT_NE(want, nullptr);
      for (int r = 0; r < n; r += std::max(1, n / 7)) {
        PlanContext ctx{r, n, 128 << 10, &view};
        const Algorithm* got = nullptr;
        ASSERT_EQ(selector.select(args, ctx, &got), mixcclSuccess);
        EXPECT_EQ(got, want) << GetParam() << " " << collName(args.type) << " " << bytes << " B rank " << r;
        // Estimates must not depend on the rank that computes them.
        EXPECT_DOUBLE_EQ(got->estimate(args, ctx), want->estimate(args, ctx0));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DescribedCluster,
                         testing::Values("one_host_8gpus.txt", "sixteen_hosts_8gpus.txt", "two_sites_wan.txt"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find('.'));
                         });

TEST(Selection, LargeAllReduceAcrossASlowWanIsHierarchical) {
  ClusterView view = loadFixture("two_sites_wan.txt");
  Selector selector;
  ASSERT_EQ(Selector::create("", &selector), mixcclSuccess);
  const Algorithm* got = nullptr;
  CollArgs args{CollType::kAllReduce, 16 << 20, mixcclFloat32, mixcclSum, 0};
  ASSERT_EQ(selector.select(args, PlanContext{3, view.nranks(), 128 << 10, &view}, &got), mixcclSuccess);
  EXPECT_STREQ(got->name(), "hierarchical");
  // The flat ring pushes 2(n-1)/n of the data through the WAN; hierarchical only the shards.
  const double ring = findAlgorithm("ring")->estimate(args, PlanContext{0, view.nranks(), 128 << 10, &view});
  EXPECT_GT(ring, 4 * got->estimate(args, PlanContext{0, view.nranks(), 128 << 10, &view}));
}

TEST(Selection, OverridesApplyPerCollectiveAndFallBackWhenDeclined) {
  ClusterView wan = loadFixture("two_sites_wan.txt");
  ClusterView oneHost = loadFixture("one_host_8gpus.txt");
  Selector selector;
  ASSERT_EQ(Selector::create("allreduce=ring", &selector), mixcclSuccess);
  CollArgs ar{CollType::kAllReduce, 16 << 20, mixcclFloat32, mixcclSum, 0};
  const Algorithm* got = nullptr;
  ASSERT_EQ(selector.select(ar, PlanContext{0, wan.nranks(), 128 << 10, &wan}, &got), mixcclSuccess);
  EXPECT_STREQ(got->name(), "ring");

  Selector forcedHier;
  ASSERT_EQ(Selector::create("hierarchical", &forcedHier), mixcclSuccess);
  ASSERT_EQ(forcedHier.select(ar, PlanContext{0, oneHost.nranks(), 128 << 10, &oneHost}, &got), mixcclSuccess);
  EXPECT_STRNE(got->name(), "hierarchical") << "hierarchical declines a single host; the selector must fall back";
  EXPECT_EQ(got, cheapest(ar, PlanContext{0, oneHost.nranks(), 128 << 10, &oneHost}));

  Selector bad;
  EXPECT_EQ(Selector::create("allreduce=warp", &bad), mixcclInvalidUsage);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("hierarchical"), std::string::npos)
      << "the error lists the known algorithms: " << mixcclGetLastError(nullptr);
}

TEST(Selection, TableListsEveryCandidateAndTheRanges) {
  ClusterView view = loadFixture("two_sites_wan.txt");
  Selector selector;
  ASSERT_EQ(Selector::create("", &selector), mixcclSuccess);
  PlanContext ctx{0, view.nranks(), 128 << 10, &view};
  auto rows = selectionTable(selector, CollType::kAllReduce, mixcclFloat32, ctx, 8, 1 << 20, 4);
  ASSERT_EQ(rows.size(), 9u);  // 8 B .. 512 KiB
  for (const SelectionRow& row : rows) {
    EXPECT_EQ(row.candidates.size(), allAlgorithms().size());
    EXPECT_NE(row.chosen, nullptr);
  }
  std::string text = formatSelectionTable(CollType::kAllReduce, rows);
  EXPECT_NE(text.find("ranges: 8 B .."), std::string::npos) << text;
  EXPECT_NE(text.find("hierarchical*"), std::string::npos) << text;
}

}  // namespace
}  // namespace mixccl

// Plan simulator for the hierarchical all-reduce on multi-host, multi-site cluster views: every data type x op x
// counts {0, 1, n-1, n, n+1, a prime} x in/out of place, exact; clusters up to 4096 ranks; and the bytes it puts
// on each link class, which is the point of the algorithm.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/datatype.h"
#include "engine/simulator.h"
#include "support/exact_data.h"
#include "support/plan_checks.h"

namespace mixccl {
namespace {

// `sites` sites of `hosts` hosts of `ranksPerHost` ranks, ranks numbered site-major.
ClusterView makeCluster(int sites, int hosts, int ranksPerHost) {
  std::vector<RankPlacement> p;
  for (int s = 0; s < sites; ++s) {
    for (int h = 0; h < hosts; ++h) {
      RankPlacement place;
      place.site = "site";
      place.site += std::to_string(s);
      place.host = place.site;
      place.host += "/host";
      place.host += std::to_string(h);
      for (int l = 0; l < ranksPerHost; ++l) p.push_back(place);
    }
  }
  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  return ClusterView::build(p, costs);
}

// Runs one all-reduce on `view` and returns the number of wrong elements over all ranks (-1: simulation failed).
int64_t runAllReduce(const ClusterView& view, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op, bool inPlace,
                     uint64_t chunkElems, SimStats* stats = nullptr) {
  const Algorithm* algo = findAlgorithm("hierarchical");
  const int n = view.nranks();
  const size_t esz = dataTypeSize(dt);
  CollArgs args{CollType::kAllReduce, count, dt, op, 0};
  std::vector<std::vector<char>> sendBufs(n), recvBufs(n);
  std::vector<SimRankBuffers> bufs(n);
  for (int r = 0; r < n; ++r) {
    recvBufs[r].assign(count * esz + 1, 0x5a);
    sendBufs[r].assign(count * esz + 1, 0);
    char* send = inPlace ? recvBufs[r].data() : sendBufs[r].data();
    testdata::fillSend(0, send, count, dt, op, 0, r, n);
    bufs[r] = {send, recvBufs[r].data()};
  }
  std::vector<char> want(count * esz + 1);
  testdata::fillExpectedRecv(0, want.data(), count, dt, op, 0, 0, n);
  SimOptions options;
  options.chunkBytes = chunkElems * esz;
  options.slotsPerChannel = 2;
  options.cluster = &view;
  if (simulate(*algo, args, n, options, bufs, stats) != mixcclSuccess) return -1;
  int64_t wrong = 0;
  for (int r = 0; r < n; ++r) wrong += testdata::countWrong(bufs[r].recv, want.data(), dt, count);
  return wrong;
}

struct Shape {
  int sites, hosts, ranksPerHost;
};

TEST(HierarchicalSim, ExactOnEveryShapeTypeOpCountAndPlacement) {
  const Shape shapes[] = {{1, 2, 1}, {1, 2, 3}, {1, 3, 2}, {2, 1, 3}, {2, 2, 1}, {2, 2, 2}, {3, 2, 2}, {2, 3, 4}};
  const mixcclRedOp_t ops[] = {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg};
  int failures = 0;
  for (const Shape& sh : shapes) {
    ClusterView view = makeCluster(sh.sites, sh.hosts, sh.ranksPerHost);
    const int n = view.nranks();
    const uint64_t counts[] = {0, 1, static_cast<uint64_t>(n - 1), static_cast<uint64_t>(n),
                               static_cast<uint64_t>(n + 1), 1009};
    for (int dt = 0; dt < mixcclNumTypes && failures < 5; ++dt) {
      for (mixcclRedOp_t op : ops) {
        for (uint64_t count : counts) {
          for (bool inPlace : {false, true}) {
            const uint64_t chunk = count == 1009 ? 29 : 3;
            int64_t wrong = runAllReduce(view, count, static_cast<mixcclDataType_t>(dt), op, inPlace, chunk);
            if (wrong != 0) {
              ADD_FAILURE() << view.describe() << " " << dataTypeName(static_cast<mixcclDataType_t>(dt)) << " "
                            << redOpName(op) << " count " << count << (inPlace ? " in place" : "") << ": "
                            << (wrong < 0 ? "simulation failed" : std::to_string(wrong) + " wrong");
              ++failures;
            }
          }
        }
      }
    }
  }
}

TEST(HierarchicalSim, ExactAt1024And4096Ranks) {
  const Shape shapes[] = {{4, 16, 16}, {4, 128, 8}};
  for (const Shape& sh : shapes) {
    ClusterView view = makeCluster(sh.sites, sh.hosts, sh.ranksPerHost);
    const int n = view.nranks();
    for (uint64_t count : {uint64_t{1}, static_cast<uint64_t>(n + 1), uint64_t{1009}}) {
      EXPECT_EQ(runAllReduce(view, count, mixcclFloat32, mixcclSum, false, 64), 0) << view.describe() << " count "
                                                                                   << count;
    }
    EXPECT_EQ(runAllReduce(view, 1009, mixcclInt32, mixcclMax, true, 64), 0) << view.describe();
  }
}

TEST(HierarchicalSim, DeclinesClustersItCannotServe) {
  const Algorithm* algo = findAlgorithm("hierarchical");
  CollArgs ar{CollType::kAllReduce, 100, mixcclFloat32, mixcclSum, 0};
  ClusterView one = ClusterView::singleHost(4);
  EXPECT_FALSE(algo->supports(ar, PlanContext{0, 4, 1024, &one}));
  EXPECT_FALSE(algo->supports(ar, PlanContext{0, 4, 1024, nullptr}));
  std::vector<RankPlacement> uneven = {{"a", "", -1}, {"a", "", -1}, {"b", "", -1}};
  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  ClusterView unevenView = ClusterView::build(uneven, costs);
  EXPECT_FALSE(algo->supports(ar, PlanContext{0, 3, 1024, &unevenView}));
  ClusterView two = makeCluster(2, 2, 2);
  EXPECT_TRUE(algo->supports(ar, PlanContext{0, 8, 1024, &two}));
  CollArgs ag{CollType::kAllGather, 100, mixcclFloat32, mixcclSum, 0};
  EXPECT_FALSE(algo->supports(ag, PlanContext{0, 8, 1024, &two}));
}

// Bytes sent between sites: with S sites of P ranks each, every rank of the top ring sends 2(S-1)/S of its
// shard count/P, so the WAN carries 2(S-1)/S * count * S elements in all -- P times less than a flat ring whose
// every link crosses... counted here directly from the plans.
TEST(HierarchicalSim, WanCarriesOnlyTheShards) {
  ClusterView view = makeCluster(2, 2, 2);
  const int n = view.nranks();
  const uint64_t count = 64 * n;
  const Algorithm* algo = findAlgorithm("hierarchical");
  CollArgs args{CollType::kAllReduce, count, mixcclFloat32, mixcclSum, 0};
  uint64_t wanElems = 0, allElems = 0;
  for (int r = 0; r < n; ++r) {
    Plan plan = algo->plan(args, PlanContext{r, n, 16 * sizeof(float), &view});
    for (const Step& s : plan.steps) {
      if (!s.hasSend()) continue;
      allElems += s.count;
      if (view.linkClass(r, s.sendPeer) == LinkClass::kCrossSite) wanElems += s.count;
    }
  }
  // 2 sites: each of the 4 top rings (one per (host position, local index)) moves count/4 twice, in each direction
  // half: 2 * (2-1)/2 * count/4 per rank, over 8 ranks.
  EXPECT_EQ(wanElems, static_cast<uint64_t>(n) * (count / 4));
  EXPECT_EQ(runAllReduce(view, count, mixcclFloat32, mixcclSum, false, 16), 0);
  EXPECT_LT(wanElems * 3, allElems);
}

// The levels overlap: every rank's plan has a lane per level (rings of 2: two, sends apart from receives), tied by
// waits, and keeps the message rule of plan.h. (That every ring's members visit their chunks in one order is what
// the exact simulations above check.)
TEST(HierarchicalSim, LevelsRunInLanesTiedByWaits) {
  const Algorithm* algo = findAlgorithm("hierarchical");
  struct Shape {
    int sites, hosts, local;
    size_t lanes;
  };
  for (const Shape& sh : {Shape{2, 2, 1, 4}, Shape{2, 4, 1, 3}, Shape{2, 2, 2, 6}, Shape{3, 3, 3, 3}}) {
    ClusterView view = makeCluster(sh.sites, sh.hosts, sh.local);
    const int n = view.nranks();
    CollArgs args{CollType::kAllReduce, 1000 * static_cast<uint64_t>(n) + 7, mixcclFloat32, mixcclSum, 0};
    for (int r = 0; r < n; ++r) {
      const Plan plan = algo->plan(args, PlanContext{r, n, 16 * sizeof(float), &view});
      const std::string where = std::to_string(sh.sites) + "x" + std::to_string(sh.hosts) + "x" +
                                std::to_string(sh.local) + " rank " + std::to_string(r);
      ASSERT_EQ(validatePlan(plan, r, n, args.count, args.count), "") << where;
      EXPECT_EQ(plan.numLanes(), sh.lanes) << where;
      EXPECT_FALSE(plan.waits.empty()) << where;
      ASSERT_EQ(laneOwnershipProblem(plan, n, 3), "") << where;
    }
  }
}

}  // namespace
}  // namespace mixccl

// ClusterView (hosts, sites, link classes, fingerprint), the link-cost text forms and cluster description files.
#include <gtest/gtest.h>

#include <string>

#include "core/cluster_init.h"
#include "topology/cluster_file.h"
#include "topology/cluster_view.h"
#include "topology/link_cost_text.h"

namespace mixccl {
namespace {

ClusterView viewOf(const std::vector<RankPlacement>& p) {
  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  return ClusterView::build(p, costs);
}

TEST(ClusterView, NumbersHostsAndSitesByTheirLowestRank) {
  // Ranks interleaved over hosts: b's first rank is 0, so b is host 0.
  ClusterView v = viewOf({{"b", "west", -1}, {"a", "east", -1}, {"b", "west", -1}, {"c", "west", -1},
                          {"a", "east", -1}});
  EXPECT_EQ(v.nranks(), 5);
  EXPECT_EQ(v.numHosts(), 3);
  EXPECT_EQ(v.numSites(), 2);
  EXPECT_EQ(v.hostOf(0), 0);
  EXPECT_EQ(v.hostOf(1), 1);
  EXPECT_EQ(v.hostOf(3), 2);
  EXPECT_EQ(v.ranksOnHost(0), (std::vector<int>{0, 2}));
  EXPECT_EQ(v.ranksOnHost(1), (std::vector<int>{1, 4}));
  EXPECT_EQ(v.localIndex(4), 1);
  EXPECT_EQ(v.siteName(v.siteOf(0)), "west");
  EXPECT_EQ(v.hostsOfSite(v.siteOf(0)), (std::vector<int>{0, 2}));
  EXPECT_FALSE(v.uniformHosts());
  EXPECT_FALSE(v.uniformSites());
  EXPECT_EQ(v.linkClass(0, 2), LinkClass::kSameHost);
  EXPECT_EQ(v.linkClass(0, 3), LinkClass::kSameSite);
  EXPECT_EQ(v.linkClass(0, 1), LinkClass::kCrossSite);
  EXPECT_EQ(v.widestClass(), LinkClass::kCrossSite);
  EXPECT_NE(v.describe().find("site west"), std::string::npos) << v.describe();
}

TEST(ClusterView, RanksOnOneGpuAreSameDevice) {
  ClusterView v = viewOf({{"h", "", 0}, {"h", "", 0}, {"h", "", 1}, {"h", "", -1}});
  EXPECT_EQ(v.linkClass(0, 1), LinkClass::kSameDevice);
  EXPECT_EQ(v.linkClass(0, 2), LinkClass::kSameHost);
  EXPECT_EQ(v.linkClass(3, 3 - 3), LinkClass::kSameHost);
  EXPECT_EQ(v.widestClass(), LinkClass::kSameHost);
}

TEST(ClusterView, FingerprintChangesWithPlacementAndCosts) {
  ClusterView a = viewOf({{"x", "", -1}, {"y", "", -1}});
  ClusterView b = viewOf({{"x", "", -1}, {"x", "", -1}});
  EXPECT_EQ(a.fingerprint(), viewOf({{"x", "", -1}, {"y", "", -1}}).fingerprint());
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  ClusterView c = a;
  c.setCost(LinkClass::kSameSite, {1e-3, 1e6});
  EXPECT_NE(a.fingerprint(), c.fingerprint());
}

TEST(LinkCostText, ParsesUnitsAndListsAndNamesBadText) {
  double v = 0;
  std::string err;
  EXPECT_TRUE(parseLatency("2us", &v, &err));
  EXPECT_DOUBLE_EQ(v, 2e-6);
  EXPECT_TRUE(parseLatency("5 ms", &v, &err));
  EXPECT_DOUBLE_EQ(v, 5e-3);
  EXPECT_TRUE(parseBandwidth("1.25GB/s", &v, &err));
  EXPECT_DOUBLE_EQ(v, 1.25e9);
  EXPECT_TRUE(parseBandwidth("1Gbit/s", &v, &err));
  EXPECT_DOUBLE_EQ(v, 1.25e8);
  EXPECT_FALSE(parseLatency("fast", &v, &err));
  EXPECT_NE(err.find("'fast'"), std::string::npos) << err;
  EXPECT_FALSE(parseBandwidth("10 furlongs", &v, &err));
  EXPECT_FALSE(parseLatency("-1us", &v, &err));

  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  const LinkCost sameHost = costs[1];
  EXPECT_TRUE(parseLinkCosts("cross-site=5ms/1.25GB/s, same-site=20us/10Gbit/s", costs, &err)) << err;
  EXPECT_DOUBLE_EQ(costs[3].alphaSec, 5e-3);
  EXPECT_DOUBLE_EQ(costs[3].bytesPerSec, 1.25e9);
  EXPECT_DOUBLE_EQ(costs[2].bytesPerSec, 1.25e9);
  EXPECT_DOUBLE_EQ(costs[1].alphaSec, sameHost.alphaSec) << "classes not named keep their cost";
  EXPECT_FALSE(parseLinkCosts("wan=5ms/1GB/s", costs, &err));
  EXPECT_NE(err.find("'wan'"), std::string::npos) << err;
  EXPECT_FALSE(parseLinkCosts("cross-site=5ms", costs, &err));
}

TEST(ClusterFile, BuildsSitesHostsAndGpus) {
  ClusterView v;
  ASSERT_EQ(parseClusterText("# two sites\nsite a hosts=2 ranks_per_host=3 gpus_per_host=2\n"
                             "site b hosts=1 ranks_per_host=3\nlink cross-site 2ms 100MB/s  # slow\n",
                             "t.txt", &v),
            mixcclSuccess);
  EXPECT_EQ(v.nranks(), 9);
  EXPECT_EQ(v.numHosts(), 3);
  EXPECT_EQ(v.numSites(), 2);
  EXPECT_EQ(v.linkClass(0, 2), LinkClass::kSameDevice) << "local ranks 0 and 2 share GPU 0 of 2";
  EXPECT_EQ(v.linkClass(0, 1), LinkClass::kSameHost);
  EXPECT_EQ(v.linkClass(0, 3), LinkClass::kSameSite);
  EXPECT_EQ(v.linkClass(0, 6), LinkClass::kCrossSite);
  EXPECT_DOUBLE_EQ(v.cost(LinkClass::kCrossSite).bytesPerSec, 1e8);
}

TEST(ClusterFile, ErrorsNameTheFileAndLine) {
  ClusterView v;
  EXPECT_EQ(parseClusterText("site a hosts=1 ranks_per_host=1\nlnk same-host 1us 1GB/s\n", "c.txt", &v),
            mixcclInvalidArgument);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("c.txt:2"), std::string::npos)
      << mixcclGetLastError(nullptr);
  EXPECT_EQ(parseClusterText("site a hosts=0 ranks_per_host=1\n", "c.txt", &v), mixcclInvalidArgument);
  EXPECT_EQ(parseClusterText("link same-host 1us 1GB/s\n", "c.txt", &v), mixcclInvalidArgument);
  EXPECT_EQ(parseClusterText("site a hosts=1 ranks_per_host=1\nlink same-host 1us fast\n", "c.txt", &v),
            mixcclInvalidArgument);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("'fast'"), std::string::npos);
  EXPECT_EQ(loadClusterFile("/nonexistent/cluster.txt", &v), mixcclInvalidArgument);
  EXPECT_NE(std::string(mixcclGetLastError(nullptr)).find("/nonexistent/cluster.txt"), std::string::npos);
}

TEST(ProbeTournament, EveryPairMeetsOnceAndRoundsAreDisjoint) {
  for (int h = 1; h <= 9; ++h) {
    const int rounds = (h % 2 == 0 ? h : h + 1) - 1;
    std::vector<std::vector<int>> met(h, std::vector<int>(h, 0));
    for (int t = 0; t < rounds; ++t) {
      for (int i = 0; i < h; ++i) {
        const int p = roundPartner(i, t, h);
        if (p < 0) continue;
        ASSERT_NE(p, i) << "h=" << h << " t=" << t;
        ASSERT_EQ(roundPartner(p, t, h), i) << "pairs must be mutual: h=" << h << " t=" << t << " i=" << i;
        ++met[i][p];
      }
    }
    for (int i = 0; i < h; ++i) {
      for (int j = 0; j < h; ++j) EXPECT_EQ(met[i][j], i == j ? 0 : 1) << "h=" << h << " pair " << i << "," << j;
    }
  }
}

TEST(SitesFromLatency, JoinsCloseHostsTransitivelyAndSplitsFarOnes) {
  // Hosts 0,1,2 within ~50 us of each other (0-2 only through 1), host 3 and 4 5 ms away from them.
  const double near = 50e-6, mid = 240e-6, far = 5e-3;
  std::vector<std::vector<double>> rtt = {{0, near, 2e-3, far, far},
                                          {near, 0, mid, far, far},
                                          {2e-3, mid, 0, far, far},
                                          {far, far, far, 0, near},
                                          {far, far, far, near, 0}};
  EXPECT_EQ(sitesFromLatency(rtt), (std::vector<int>{0, 0, 0, 1, 1}));
  std::vector<std::vector<double>> uniform(3, std::vector<double>(3, 80e-6));
  EXPECT_EQ(sitesFromLatency(uniform), (std::vector<int>{0, 0, 0}));
}

}  // namespace
}  // namespace mixccl

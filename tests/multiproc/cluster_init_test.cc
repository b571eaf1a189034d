// The cluster view a communicator builds at init, with ranks made to look like separate hosts (MIXCCL_HOSTNAME)
// and placed in sites (MIXCCL_SITE): the view every rank holds, the hierarchical all-reduce over it (shared memory
// inside a "host", UCX between them), the latency probe when no site is labelled, and the errors for ranks that
// disagree. Skipped, with the reason, where this build has no network transport to join the "hosts".
#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "support/collective_check.h"
#include "support/rank_runner.h"
#include "transports/registry.h"

namespace mixccl {
namespace {

using testing::rankCheck;
using testing::runRanks;

// Why ranks on different "hosts" cannot be joined here ("" if they can).
std::string noNetworkReason() {
  uint32_t mask = 0;
  if (allowedTransports("ucx", &mask) == mixcclSuccess) {
    setenv("UCX_TLS", "tcp,self", 1);
    setenv("UCX_NET_DEVICES", "lo", 1);
    return "";
  }
  if (allowedTransports("ofi", &mask) == mixcclSuccess) {
    setenv("MIXCCL_OFI_PROVIDER", "tcp", 1);
    return "";
  }
  return "this build has no network transport (UCX or libfabric) to join ranks on different hosts";
}

// "<prefix><i>" (built by appending: GCC 12 warns falsely on operator+ of a literal and a temporary).
std::string numbered(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

// Rank r is on host "h<r / perHost>"; with sites, host h is in site "s<h / hostsPerSite>".
void placeRank(int rank, int perHost, int hostsPerSite) {
  const int host = rank / perHost;
  setenv("MIXCCL_HOSTNAME", numbered("h", host).c_str(), 1);
  if (hostsPerSite > 0) {
    setenv("MIXCCL_SITE", numbered("s", host / hostsPerSite).c_str(), 1);
  } else {
    unsetenv("MIXCCL_SITE");
  }
}

TEST(ClusterInit, LabelledSitesGiveTheSameViewEverywhereAndHierarchicalIsExact) {
  std::string why = noNetworkReason();
  if (!why.empty()) GTEST_SKIP() << why;
  setenv("MIXCCL_ALGO", "allreduce=hierarchical", 1);
  auto result = runRanks(8, [](int rank, int n, const mixcclUniqueId& id) {
    placeRank(rank, 2, 2);  // 2 sites x 2 hosts x 2 ranks
    mixcclComm_t comm = nullptr;
    if (!rankCheck(mixcclCommInitRank(&comm, n, id, rank) == mixcclSuccess, rank, "init: %s",
                   mixcclGetLastError(nullptr)))
      return 1;
    const ClusterView& v = comm->impl->cluster();
    bool ok = rankCheck(v.numHosts() == 4 && v.numSites() == 2 && v.uniformHosts(), rank, "view: %s",
                        v.describe().c_str());
    ok = rankCheck(v.linkClass(0, 1) == LinkClass::kSameHost && v.linkClass(0, 2) == LinkClass::kSameSite &&
                       v.linkClass(0, 4) == LinkClass::kCrossSite,
                   rank, "link classes wrong: %s", v.describe().c_str()) && ok;
    for (uint64_t count : {uint64_t{1}, uint64_t{9}, uint64_t{100003}}) {
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclBfloat16, mixcclInt64}) {
        for (bool inPlace : {false, true}) {
          int64_t wrong = testing::runCheckedCollective(comm, CollType::kAllReduce, count, dt, mixcclSum, 0, inPlace,
                                                        rank, n);
          ok = rankCheck(wrong == 0, rank, "hierarchical all-reduce count %llu: %lld wrong",
                         static_cast<unsigned long long>(count), static_cast<long long>(wrong)) && ok;
        }
      }
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  }, 240);
  unsetenv("MIXCCL_ALGO");
  EXPECT_TRUE(result.ok) << result.report;
}

// The hierarchical all-reduce forced over each network transport between "hosts" (shared memory inside one),
// for 2..8 ranks in several shapes.
struct HierShape {
  const char* transport;  // "ucx" or "ofi": what joins the hosts
  int sites, hostsPerSite, ranksPerHost;
};

void PrintTo(const HierShape& s, std::ostream* os) {
  *os << s.transport << " " << s.sites << "x" << s.hostsPerSite << "x" << s.ranksPerHost;
}

class HierarchicalOverNetwork : public ::testing::TestWithParam<HierShape> {};

TEST_P(HierarchicalOverNetwork, ExactForTypesCountsAndPlacements) {
  const HierShape shape = GetParam();
  uint32_t mask = 0;
  if (allowedTransports(shape.transport, &mask) != mixcclSuccess) {
    GTEST_SKIP() << "this build has no " << shape.transport << " transport";
  }
  setenv("MIXCCL_TRANSPORTS", (std::string("shm,") + shape.transport).c_str(), 1);
  setenv("UCX_TLS", "tcp,self", 1);
  setenv("UCX_NET_DEVICES", "lo", 1);
  setenv("MIXCCL_OFI_PROVIDER", "tcp", 1);
  setenv("MIXCCL_ALGO", "hierarchical", 1);
  const int n = shape.sites * shape.hostsPerSite * shape.ranksPerHost;
  auto result = runRanks(n, [shape](int rank, int nranks, const mixcclUniqueId& id) {
    placeRank(rank, shape.ranksPerHost, shape.hostsPerSite);
    mixcclComm_t comm = nullptr;
    if (!rankCheck(mixcclCommInitRank(&comm, nranks, id, rank) == mixcclSuccess, rank, "init: %s",
                   mixcclGetLastError(nullptr)))
      return 1;
    bool ok = true;
    for (uint64_t count : {uint64_t{1}, static_cast<uint64_t>(nranks + 1), uint64_t{300007}}) {
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclFloat16, mixcclInt32}) {
        for (mixcclRedOp_t op : {mixcclSum, mixcclAvg, mixcclMin}) {
          const bool inPlace = (count + dt) % 2 == 0;
          int64_t wrong = testing::runCheckedCollective(comm, CollType::kAllReduce, count, dt, op, 0, inPlace, rank,
                                                        nranks);
          ok = rankCheck(wrong == 0, rank, "count %llu type %d op %d: %lld wrong",
                         static_cast<unsigned long long>(count), dt, op, static_cast<long long>(wrong)) && ok;
          if (wrong < 0) return 1;
        }
      }
    }
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  }, 240);
  unsetenv("MIXCCL_ALGO");
  unsetenv("MIXCCL_TRANSPORTS");
  EXPECT_TRUE(result.ok) << result.report;
}

std::vector<HierShape> hierShapes() {
  const HierShape shapes[] = {{"", 1, 2, 1}, {"", 1, 3, 1}, {"", 2, 2, 1}, {"", 1, 5, 1},
                              {"", 1, 3, 2}, {"", 1, 7, 1}, {"", 2, 2, 2}};
  std::vector<HierShape> all;
  for (const char* t : {"ucx", "ofi"}) {
    for (HierShape s : shapes) {
      s.transport = t;
      all.push_back(s);
    }
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Shapes, HierarchicalOverNetwork, ::testing::ValuesIn(hierShapes()),
                         [](const ::testing::TestParamInfo<HierShape>& info) {
                           const HierShape& s = info.param;
                           return std::string(s.transport) + "_" + std::to_string(s.sites) + "x" +
                                  std::to_string(s.hostsPerSite) + "x" + std::to_string(s.ranksPerHost);
                         });

TEST(ClusterInit, UnlabelledHostsAreProbedAndLoopbackIsOneSite) {
  std::string why = noNetworkReason();
  if (!why.empty()) GTEST_SKIP() << why;
  auto result = runRanks(5, [](int rank, int n, const mixcclUniqueId& id) {
    placeRank(rank, 1, 0);  // 5 hosts (odd: one sits out each probe round), no labels: the probe runs
    mixcclComm_t comm = nullptr;
    if (!rankCheck(mixcclCommInitRank(&comm, n, id, rank) == mixcclSuccess, rank, "init: %s",
                   mixcclGetLastError(nullptr)))
      return 1;
    const ClusterView& v = comm->impl->cluster();
    // Every "host" is on this machine, so every round trip is alike: one site, with a measured latency.
    bool ok = rankCheck(v.numHosts() == 5 && v.numSites() == 1, rank, "view: %s", v.describe().c_str());
    const double alpha = v.cost(LinkClass::kSameSite).alphaSec;
    ok = rankCheck(alpha > 0 && alpha < 0.05, rank, "measured same-site latency %g s", alpha) && ok;
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  }, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(ClusterInit, ASiteThatDiffersOnOneHostFailsEveryRankNamingIt) {
  std::string why = noNetworkReason();
  if (!why.empty()) GTEST_SKIP() << why;
  auto result = runRanks(4, [](int rank, int n, const mixcclUniqueId& id) {
    placeRank(rank, 2, 1);
    if (rank == 1) setenv("MIXCCL_SITE", "elsewhere", 1);
    mixcclComm_t comm = nullptr;
    mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
    const std::string msg = mixcclGetLastError(nullptr);
    return rankCheck(res == mixcclInvalidUsage && msg.find("MIXCCL_SITE differs on host h0") != std::string::npos,
                     rank, "init gave %d: %s", res, msg.c_str()) ? 0 : 1;
  }, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(ClusterInit, MalformedLinkCostsOnOneRankFailEveryRankNamingIt) {
  std::string why = noNetworkReason();
  if (!why.empty()) GTEST_SKIP() << why;
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) {
    placeRank(rank, 3, 1);
    setenv("MIXCCL_LINK_COSTS", rank == 2 ? "cross-site=slow/1GB/s" : "cross-site=5ms/1GB/s", 1);
    mixcclComm_t comm = nullptr;
    mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
    const std::string msg = mixcclGetLastError(nullptr);
    const char* want = rank == 2 ? "latency 'slow'" : "rank 2";
    return rankCheck(res == mixcclInvalidUsage && msg.find(want) != std::string::npos, rank, "init gave %d: %s",
                     res, msg.c_str()) ? 0 : 1;
  }, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(ClusterInit, LinkCostsThatDifferBetweenRanksAreRefused) {
  std::string why = noNetworkReason();
  if (!why.empty()) GTEST_SKIP() << why;
  auto result = runRanks(2, [](int rank, int n, const mixcclUniqueId& id) {
    placeRank(rank, 2, 1);
    setenv("MIXCCL_LINK_COSTS", rank == 0 ? "same-host=1us/10GB/s" : "same-host=2us/10GB/s", 1);
    mixcclComm_t comm = nullptr;
    mixcclResult_t res = mixcclCommInitRank(&comm, n, id, rank);
    const std::string msg = mixcclGetLastError(nullptr);
    return rankCheck(res == mixcclInvalidUsage && msg.find("differs") != std::string::npos, rank,
                     "init gave %d: %s", res, msg.c_str()) ? 0 : 1;
  }, 120);
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace
}  // namespace mixccl

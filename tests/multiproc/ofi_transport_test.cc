// Forked ranks over the libfabric (ofi) transport, forced for every pair (MIXCCL_TRANSPORTS=ofi), once per
// provider (tcp over loopback, shm): every collective x 2..4 ranks, and inside each rank a few data types x
// operators x in/out of place x awkward counts, checked exactly; then a killed and an aborting rank.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "engine/coll_args.h"
#include "support/exact_data.h"
#include "support/collective_check.h"
#include "support/rank_runner.h"
#include "support/transport_probe.h"

namespace mixccl {
namespace {

using testing::runRanks;

// Whether `fi_info` lists an RDM endpoint of `provider` here ("" if it does, else why not).
std::string providerMissing(const std::string& provider) {
  std::string cmd = "fi_info -p '" + provider + "' -t FI_EP_RDM 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "cannot run fi_info";
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  int rc = pclose(pipe);
  if (rc != 0 || out.find("provider: " + provider) == std::string::npos) {
    return "fi_info -p " + provider + " -t FI_EP_RDM finds nothing: " + out.substr(0, 200);
  }
  return "";
}

// Environment of the ranks (inherited through fork): every pair through ofi, over `provider`, tcp on loopback.
void useProvider(const std::string& provider) {
  setenv("MIXCCL_TRANSPORTS", "ofi", 1);
  setenv("MIXCCL_OFI_PROVIDER", provider.c_str(), 1);
  setenv("FI_TCP_IFACE", "lo", 1);
  setenv("FI_SOCKETS_IFACE", "lo", 1);
}

struct OfiCase {
  const char* provider;
  CollType coll;
  int nranks;
};

void PrintTo(const OfiCase& c, std::ostream* os) {
  *os << c.provider << " " << collName(c.coll) << " x " << c.nranks << " ranks";
}

class OfiCollectives : public ::testing::TestWithParam<OfiCase> {};

TEST_P(OfiCollectives, TypesOpsCountsAndPlacementsAreExact) {
  const OfiCase oc = GetParam();
  if (!testing::transportBuilt("ofi")) GTEST_SKIP() << "this build has no ofi transport (libfabric not found)";
  std::string missing = providerMissing(oc.provider);
  if (!missing.empty()) {
    printf("skipped: %s\n", missing.c_str());
    GTEST_SKIP() << missing;
  }
  useProvider(oc.provider);
  auto body = [oc](int rank, int n, const mixcclUniqueId& id) {
    const testing::CollectiveMatrix m{{mixcclFloat32, mixcclInt32, mixcclBfloat16, mixcclFloat64},
                                         {mixcclSum, mixcclMax, mixcclAvg},
                                         {0, 1, static_cast<uint64_t>(n + 1), 1009},
                                         300007};
    return testing::runCollectiveMatrix(rank, n, id, oc.coll, m);
  };
  auto result = runRanks(oc.nranks, body, 240);
  // A provider that is listed but cannot open here (no /dev/shm access, a sandbox) fails every rank's init.
  bool openFailed = false;
  for (const char* call : {"fi_getinfo", "fi_fabric", "fi_domain", "fi_cq_open", "fi_av_open", "fi_endpoint"}) {
    openFailed |= result.output.find(std::string("init over ofi/") + oc.provider + ": ofi: " + call) !=
                  std::string::npos;
  }
  if (!result.ok && openFailed && std::string(oc.provider) != "tcp") {
    printf("skipped: provider %s does not open here:\n%s\n", oc.provider, result.report.c_str());
    GTEST_SKIP() << "provider " << oc.provider << " does not open here";
  }
  EXPECT_TRUE(result.ok) << result.report;
}

std::vector<OfiCase> ofiCases() {
  std::vector<OfiCase> cases;
  for (const char* provider : {"tcp", "shm"}) {
    for (CollType c : {CollType::kAllReduce, CollType::kAllGather, CollType::kReduceScatter, CollType::kBroadcast}) {
      for (int n = 2; n <= 4; ++n) cases.push_back({provider, c, n});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Ofi, OfiCollectives, ::testing::ValuesIn(ofiCases()),
                         [](const ::testing::TestParamInfo<OfiCase>& info) {
                           return std::string(info.param.provider) + "_" + collName(info.param.coll) + "_" +
                                  std::to_string(info.param.nranks) + "ranks";
                         });

constexpr double kTimeoutSec = 20.0;
// Over tcp a receive from a dead rank never fails; the rank waiting for it learns of the death from the
// communicator's control connections (the bootstrap ring), well before the timeout, and tells the others.

testing::VictimTest victimTest(int victim, bool abortInstead) {
  testing::VictimTest t;
  t.victim = victim;
  t.abortInstead = abortInstead;
  t.timeoutSec = kTimeoutSec;
  t.allowanceSec = kTimeoutSec;
  return t;
}

TEST(OfiFailure, KilledRankFailsTheOthersNamingItOrTheAwaitedRank) {
  if (!testing::transportBuilt("ofi")) GTEST_SKIP() << "this build has no ofi transport (libfabric not found)";
  useProvider("tcp");
  for (int victim : {0, 2}) {
    auto result = runRanks(4, [victim](int rank, int n, const mixcclUniqueId& id) {
      return testing::runUntilVictimLeaves(rank, n, id, victimTest(victim, false));
    });
    EXPECT_EQ(testing::onlyVictimFailed(result.report, victim, 4), "") << "victim " << victim;
    // At least the rank that waits for the victim's data names it.
    EXPECT_NE(result.output.find("named the victim"), std::string::npos) << result.output;
    printf("victim %d:\n%s\n", victim, result.output.c_str());
  }
}

TEST(OfiFailure, AbortingRankIsNamedByTheOthers) {
  if (!testing::transportBuilt("ofi")) GTEST_SKIP() << "this build has no ofi transport (libfabric not found)";
  useProvider("tcp");
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) {
    return testing::runUntilVictimLeaves(rank, n, id, victimTest(1, true));
  });
  EXPECT_TRUE(result.ok) << result.report;
  printf("%s\n", result.output.c_str());
}

}  // namespace
}  // namespace mixccl

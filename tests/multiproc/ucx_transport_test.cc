// Forked ranks forced through the UCX transport (MIXCCL_TRANSPORTS=ucx), once over UCX's TCP transport on the
// loopback device and once over UCX's shared-memory transports: every collective x 2..4 ranks, and inside each
// rank a few data types x operators x in/out of place x awkward counts, checked exactly; then a SIGKILLed rank
// must make every other rank fail with mixcclRemoteError naming it before the timeout. Every test skips, with
// the reason, where this build has no UCX transport or UCX cannot create a context with those settings.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
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

// One UCX configuration: UCX_TLS, and UCX_NET_DEVICES ("" leaves it unset).
struct UcxSetting {
  const char* name;
  const char* tls;
  const char* devices;
};

const UcxSetting kSettings[] = {{"tcp", "tcp", "lo"}, {"shm", "shm", ""}};

// Sets the environment the ranks inherit (runRanks forks after this).
void useSetting(const UcxSetting& s) {
  setenv("MIXCCL_TRANSPORTS", "ucx", 1);
  setenv("UCX_TLS", s.tls, 1);
  if (s.devices[0] != '\0') {
    setenv("UCX_NET_DEVICES", s.devices, 1);
  } else {
    unsetenv("UCX_NET_DEVICES");
  }
}

// Why the UCX transport cannot run here with `s` ("" if it can): not compiled in, or UCX fails to set up a
// context/worker (found by initialising a 2-rank communicator once per setting).
std::string unavailableReason(const UcxSetting& s) {
  return testing::ucxUnavailable(s.name, s.tls, [&s] { useSetting(s); });
}

struct UcxCase {
  int setting;  // index into kSettings
  CollType coll;
  int nranks;
};

void PrintTo(const UcxCase& c, std::ostream* os) {
  *os << kSettings[c.setting].name << " " << collName(c.coll) << " x " << c.nranks << " ranks";
}

class UcxCollectives : public ::testing::TestWithParam<UcxCase> {};

TEST_P(UcxCollectives, TypesOpsCountsAndPlacementsAreExact) {
  const UcxCase uc = GetParam();
  const UcxSetting& setting = kSettings[uc.setting];
  std::string why = unavailableReason(setting);
  if (!why.empty()) GTEST_SKIP() << why;
  useSetting(setting);
  auto body = [uc](int rank, int n, const mixcclUniqueId& id) {
    const testing::CollectiveMatrix m{{mixcclFloat32, mixcclInt32, mixcclFloat64, mixcclBfloat16},
                                         {mixcclSum, mixcclMax},
                                         {0, 1, static_cast<uint64_t>(n + 1), 1009},
                                         300007};
    return testing::runCollectiveMatrix(rank, n, id, uc.coll, m);
  };
  auto result = runRanks(uc.nranks, body, 240);
  EXPECT_TRUE(result.ok) << result.report;
}

std::vector<UcxCase> ucxCases() {
  std::vector<UcxCase> cases;
  for (int s = 0; s < static_cast<int>(std::size(kSettings)); ++s) {
    for (int c = 0; c < kNumCollTypes; ++c) {
      if (static_cast<CollType>(c) != CollType::kAllReduce && static_cast<CollType>(c) != CollType::kAllGather &&
          static_cast<CollType>(c) != CollType::kReduceScatter && static_cast<CollType>(c) != CollType::kBroadcast)
        continue;
      for (int n = 2; n <= 4; ++n) cases.push_back({s, static_cast<CollType>(c), n});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Ucx, UcxCollectives, ::testing::ValuesIn(ucxCases()),
                         [](const ::testing::TestParamInfo<UcxCase>& info) {
                           return std::string(kSettings[info.param.setting].name) + "_" +
                                  collName(info.param.coll) + "_" + std::to_string(info.param.nranks) + "ranks";
                         });

class UcxPeerFailure : public ::testing::TestWithParam<int> {};

TEST_P(UcxPeerFailure, KilledRankIsNamedByEveryOtherRankBeforeTheTimeout) {
  const UcxSetting& setting = kSettings[GetParam()];
  std::string why = unavailableReason(setting);
  if (!why.empty()) GTEST_SKIP() << why;
  useSetting(setting);
  for (int victim : {0, 2}) {
    auto result = runRanks(4, [victim](int rank, int n, const mixcclUniqueId& id) {
      return testing::runUntilVictimLeaves(rank, n, id, testing::VictimTest{victim, false, 20.0, 20.0, false});
    });
    EXPECT_EQ(testing::onlyVictimFailed(result.report, victim, 4), "") << "victim " << victim;
  }
}

TEST_P(UcxPeerFailure, AbortingRankIsNamedByTheOthers) {
  const UcxSetting& setting = kSettings[GetParam()];
  std::string why = unavailableReason(setting);
  if (!why.empty()) GTEST_SKIP() << why;
  useSetting(setting);
  auto result = runRanks(3, [](int rank, int n, const mixcclUniqueId& id) {
    return testing::runUntilVictimLeaves(rank, n, id, testing::VictimTest{1, true, 20.0, 20.0, false});
  });
  EXPECT_TRUE(result.ok) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Ucx, UcxPeerFailure, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(kSettings[info.param].name);
                         });

}  // namespace
}  // namespace mixccl

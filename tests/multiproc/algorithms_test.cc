// Forked ranks with each algorithm forced (MIXCCL_ALGO=<name>) over each transport (shm; ucx over UCX's tcp on
// loopback; ofi over libfabric's tcp provider on loopback): ranks 2..8, and inside each run every collective the
// algorithm offers x a few data types x operators x awkward counts x in/out of place, checked exactly. The ranks
// log at TRACE, which names the algorithm of every collective: the test checks that the forced one ran (the
// selector falls back silently to another algorithm when the forced one declines). A transport that is not built
// or cannot start here is skipped with the reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/datatype.h"
#include "engine/coll_args.h"
#include "support/collective_check.h"
#include "support/rank_runner.h"
#include "support/transport_probe.h"

namespace mixccl {
namespace {

using testing::rankCheck;
using testing::runRanks;

struct TransportSetting {
  const char* name;
  const char* transports;  // MIXCCL_TRANSPORTS
};

const TransportSetting kSettings[] = {{"shm", "shm"}, {"ucx", "ucx"}, {"ofi", "ofi"}};

// The environment the ranks inherit (runRanks forks after this).
void useSetting(const TransportSetting& s, const char* algo) {
  setenv("MIXCCL_TRANSPORTS", s.transports, 1);
  setenv("MIXCCL_ALGO", algo, 1);
  setenv("MIXCCL_DEBUG", "TRACE", 1);
  setenv("UCX_TLS", "tcp", 1);
  setenv("UCX_NET_DEVICES", "lo", 1);
  setenv("MIXCCL_OFI_PROVIDER", "tcp", 1);
  setenv("FI_TCP_IFACE", "lo", 1);
}

// Why `s` cannot run here ("" if it can): not compiled in, or a 2-rank communicator cannot init over it.
std::string unavailableReason(const TransportSetting& s) {
  return testing::transportUnavailable(
      s.name, s.transports, std::string("this build has no ") + s.name + " transport", [&s] { useSetting(s, "ring"); },
      [&s](const testing::RankRunResult& result) -> std::string {
        if (result.ok) return "";
        return std::string("a 2-rank communicator does not init over ") + s.name + ": " + result.report;
      });
}

// The collectives `algo` offers on n ranks of one host (what the forked ranks are).
std::vector<CollType> offered(const Algorithm& algo, int n) {
  const ClusterView view = ClusterView::singleHost(n);
  std::vector<CollType> out;
  for (int c = 0; c < kNumCollTypes; ++c) {
    CollArgs args;
    args.type = static_cast<CollType>(c);
    if (algo.supports(args, PlanContext{0, n, 128 << 10, &view})) out.push_back(args.type);
  }
  return out;
}

struct AlgoCase {
  int setting;  // index into kSettings
  const Algorithm* algo;
  int nranks;
};

void PrintTo(const AlgoCase& c, std::ostream* os) {
  *os << kSettings[c.setting].name << " " << c.algo->name() << " x " << c.nranks << " ranks";
}

class ForcedAlgorithm : public ::testing::TestWithParam<AlgoCase> {};

TEST_P(ForcedAlgorithm, EveryOfferedCollectiveIsExact) {
  const AlgoCase ac = GetParam();
  const TransportSetting& setting = kSettings[ac.setting];
  const std::string why = unavailableReason(setting);
  if (!why.empty()) {
    printf("skipped: %s\n", why.c_str());
    GTEST_SKIP() << why;
  }
  const std::vector<CollType> colls = offered(*ac.algo, ac.nranks);
  ASSERT_FALSE(colls.empty()) << ac.algo->name() << " offers nothing on " << ac.nranks << " ranks";
  useSetting(setting, ac.algo->name());
  auto body = [&colls](int rank, int n, const mixcclUniqueId& id) -> int {
    mixcclComm_t comm = testing::initRankComm(rank, n, id);
    if (comm == nullptr) return 1;
    const uint64_t counts[] = {0, 1, static_cast<uint64_t>(n + 1), 1009, 70001};
    int failures = 0;
    for (CollType coll : colls) {
      const bool reduces =
          coll == CollType::kAllReduce || coll == CollType::kReduceScatter || coll == CollType::kReduce;
      const std::vector<mixcclRedOp_t> ops =
          reduces ? std::vector<mixcclRedOp_t>{mixcclSum, mixcclMax, mixcclAvg} : std::vector<mixcclRedOp_t>{mixcclSum};
      for (mixcclDataType_t dt : {mixcclFloat32, mixcclInt32, mixcclBfloat16}) {
        for (mixcclRedOp_t op : ops) {
          for (uint64_t count : counts) {
            for (bool inPlace : {false, true}) {
              if (count == 70001 && (dt != mixcclFloat32 || inPlace)) continue;  // one large case per op
              const int root = static_cast<int>((count + 1) % n);
              const int64_t wrong = testing::runCheckedCollective(comm, coll, count, dt, op, root, inPlace, rank, n);
              if (rankCheck(wrong == 0, rank, "%s %s %s count %llu %s: %lld wrong", collName(coll), dataTypeName(dt),
                            redOpName(op), static_cast<unsigned long long>(count),
                            inPlace ? "in-place" : "out-of-place", static_cast<long long>(wrong)))
                continue;
              if (wrong < 0 || ++failures >= 5) return 1;  // a failed call leaves the communicator unusable
            }
          }
        }
      }
    }
    mixcclCommDestroy(comm);
    return failures == 0 ? 0 : 1;
  };
  auto result = runRanks(ac.nranks, body, 240);
  EXPECT_TRUE(result.ok) << result.report;
  // Every collective ran the forced algorithm: the TRACE lines name it ("all_reduce count 1009: tree, 12 steps"),
  // and no rank fell back.
  for (CollType coll : colls) {
    const std::string ran = std::string(collName(coll)) + " count 1009: " + ac.algo->name() + ",";
    EXPECT_NE(result.output.find(ran), std::string::npos) << "no \"" << ran << "\" in the ranks' log";
  }
  EXPECT_EQ(result.output.find("declines"), std::string::npos) << result.output.substr(0, 2000);
}

std::vector<AlgoCase> algoCases() {
  std::vector<AlgoCase> cases;
  for (int s = 0; s < static_cast<int>(std::size(kSettings)); ++s) {
    for (const Algorithm* a : allAlgorithms()) {
      // Algorithms that need several hosts (hierarchical) are forced in cluster_init_test, between "hosts".
      for (int n = 2; n <= 8; ++n) {
        if (!offered(*a, n).empty()) cases.push_back({s, a, n});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ForcedAlgorithm, ::testing::ValuesIn(algoCases()),
                         [](const ::testing::TestParamInfo<AlgoCase>& info) {
                           return std::string(kSettings[info.param.setting].name) + "_" + info.param.algo->name() +
                                  "_" + std::to_string(info.param.nranks) + "ranks";
                         });

}  // namespace
}  // namespace mixccl

// Plan simulator: every algorithm x collective it supports x data type (one test each), and inside each test every
// rank count 1..64 x counts {0, 1, n-1, n, n+1, a large prime} x operator x in/out of place, against exact
// references; every algorithm x collective at 1024 and 4096 ranks with fewer types, operators and counts; and
// bitwise-identical all-reduce results on every rank for inexact (random) float data.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/datatype.h"
#include "engine/simulator.h"
#include "support/exact_data.h"
#include "support/plan_checks.h"

namespace mixccl {
namespace {

// "A large prime" count: larger than any rank count and than a chunk, divisible by nothing. All-gather and
// reduce-scatter buffers hold count x n elements per rank (n^2 x count over all ranks), so beyond 16 ranks they
// use a smaller prime to keep the whole matrix within a CI budget.
constexpr uint64_t kLargePrime = 1009;
constexpr uint64_t kLargePrimeWide = 211;
constexpr int kFullProductRanks = 16;

struct SimCase {
  const Algorithm* algo;
  CollType coll;
  mixcclDataType_t dtype;
};

// gtest prints parameters in test listings; without this it dumps their bytes.
void PrintTo(const SimCase& c, std::ostream* os) {
  *os << c.algo->name() << " " << collName(c.coll) << " " << dataTypeName(c.dtype);
}

std::string caseName(const testing::TestParamInfo<SimCase>& info) {
  return std::string(info.param.algo->name()) + "_" + collName(info.param.coll) + "_" +
         dataTypeName(info.param.dtype);
}

// Whether `algo` offers `coll` on n ranks of one host (the simulator's default cluster).
bool offers(const Algorithm& algo, CollType coll, int n) {
  const ClusterView view = ClusterView::singleHost(n);
  CollArgs args;
  args.type = coll;
  return algo.supports(args, PlanContext{0, n, 128 << 10, &view});
}

// Every algorithm x every collective it offers on 2 ranks x `types`.
std::vector<SimCase> casesOf(const std::vector<mixcclDataType_t>& types) {
  std::vector<SimCase> cases;
  for (const Algorithm* a : allAlgorithms()) {
    for (int c = 0; c < kNumCollTypes; ++c) {
      if (!offers(*a, static_cast<CollType>(c), 2)) continue;
      for (mixcclDataType_t dt : types) cases.push_back({a, static_cast<CollType>(c), dt});
    }
  }
  return cases;
}

std::vector<SimCase> allCases() {
  std::vector<mixcclDataType_t> types;
  for (int dt = 0; dt < mixcclNumTypes; ++dt) types.push_back(static_cast<mixcclDataType_t>(dt));
  return casesOf(types);
}

bool reduces(CollType c) {
  return c == CollType::kAllReduce || c == CollType::kReduceScatter || c == CollType::kReduce;
}
bool rooted(CollType c) { return c == CollType::kBroadcast || c == CollType::kReduce; }

// Runs one simulated collective and returns the number of wrong elements over all ranks (or -1 on error).
int64_t runOne(const SimCase& sc, int n, uint64_t count, mixcclRedOp_t op, int root, bool inPlace,
               uint64_t chunkElems, SimStats* stats) {
  CollArgs args{sc.coll, count, sc.dtype, op, root};
  const size_t esz = dataTypeSize(sc.dtype);
  const uint64_t sendN = sendElements(args, n), recvN = recvElements(args, n);
  const int coll = static_cast<int>(sc.coll);
  std::vector<std::vector<char>> sendBufs(n), recvBufs(n);
  std::vector<SimRankBuffers> bufs(n);
  for (int r = 0; r < n; ++r) {
    recvBufs[r].assign(std::max(recvN, sendN) * esz + 1, 0x5a);
    sendBufs[r].assign(sendN * esz + 1, 0);
    char* send = sendBufs[r].data();
    char* recv = recvBufs[r].data();
    if (inPlace) {
      // The nccl-tests layouts: the send data sits inside the receive buffer.
      send = sc.coll == CollType::kAllGather ? recv + r * count * esz : recv;
    }
    testdata::fillSend(coll, send, count, sc.dtype, op, root, r, n);
    if (inPlace && sc.coll == CollType::kReduceScatter) recv = send + r * count * esz;
    bufs[r] = {send, recv};
  }
  // The expected results, computed once: rank r of a reduce-scatter must hold slice r of the reduced vector;
  // every other collective leaves the same recvN elements on every rank.
  std::vector<char> want;
  if (sc.coll == CollType::kReduceScatter) {
    want.resize(count * n * esz + 1);
    testdata::fillReduced(want.data(), op, sc.dtype, n, 0, count * n);
  } else {
    want.resize(recvN * esz + 1);
    testdata::fillExpectedRecv(coll, want.data(), count, sc.dtype, op, root, 0, n);
  }
  SimOptions options;
  options.chunkBytes = chunkElems * esz;
  options.slotsPerChannel = 2 + (n % 3);  // 2 is the least a fused step needs (holds an input, takes an output)
  if (simulate(*sc.algo, args, n, options, bufs, stats) != mixcclSuccess) return -1;
  int64_t wrong = 0;
  for (int r = 0; r < n; ++r) {
    if (sc.coll == CollType::kReduce && r != root) continue;  // only the root's receive buffer is defined
    const char* expect = want.data() + (sc.coll == CollType::kReduceScatter ? r * count * esz : 0);
    wrong += testdata::countWrong(bufs[r].recv, expect, sc.dtype, recvN);
  }
  return wrong;
}

class PlanSimTest : public testing::TestWithParam<SimCase> {};

TEST_P(PlanSimTest, ExactForEveryRankCountOpAndPlacement) {
  const SimCase& sc = GetParam();
  std::vector<mixcclRedOp_t> ops = {mixcclSum};
  if (reduces(sc.coll)) ops = {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg};
  // (operator, placement) combinations. Up to kFullProductRanks ranks every count runs all of them; beyond, where
  // a case costs up to n^2 x count element operations, each (n, count) runs one combination in rotation, so every
  // combination still runs at dozens of large rank counts (a plan depends on neither the operator nor the data
  // type, only the reference values do).
  const int combos = static_cast<int>(ops.size()) * 2;
  int failures = 0;
  for (int n = 1; n <= 64 && failures < 5; ++n) {
    // An algorithm that offers a collective on 2 ranks of a host offers it on every count up to 64.
    ASSERT_TRUE(offers(*sc.algo, sc.coll, n)) << sc.algo->name() << " declines " << collName(sc.coll) << " on " << n;
    const bool wide = sc.coll == CollType::kAllGather || sc.coll == CollType::kReduceScatter;
    const uint64_t prime = wide && n > 16 ? kLargePrimeWide : kLargePrime;
    const uint64_t counts[] = {0, 1, static_cast<uint64_t>(n - 1), static_cast<uint64_t>(n),
                               static_cast<uint64_t>(n + 1), prime};
    for (int ci = 0; ci < 6; ++ci) {
      const uint64_t count = counts[ci];
      for (int combo = 0; combo < combos; ++combo) {
        if (n > kFullProductRanks && combo != (n * 7 + ci) % combos) continue;
        const mixcclRedOp_t op = ops[combo / 2];
        const bool inPlace = combo % 2 == 1;
        int root = rooted(sc.coll) ? (n * 7 + 3) % n : 0;
        uint64_t chunk = count == prime ? 97 : ((n + count) % 2 ? 3 : 64);
        int64_t wrong = runOne(sc, n, count, op, root, inPlace, chunk, nullptr);
        if (wrong != 0) {
          ADD_FAILURE() << collName(sc.coll) << " " << dataTypeName(sc.dtype) << " " << redOpName(op) << " n=" << n
                        << " count=" << count << (inPlace ? " in-place" : " out-of-place") << " root=" << root
                        << " chunk=" << chunk << ": " << (wrong < 0 ? "simulation failed (see log)" : "")
                        << (wrong > 0 ? std::to_string(wrong) + " wrong elements" : "");
          ++failures;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, PlanSimTest, testing::ValuesIn(allCases()), caseName);

// At scale: every algorithm x collective it offers at 1024 and 4096 ranks (an algorithm that declines a rank
// count, like direct beyond 64, says so), float32 (exact data). 1024 ranks: counts 1 and n+1 (all-gather and
// reduce-scatter, whose buffers hold n^2 x count elements over all ranks: 1 and 3), sum and max for reductions.
// 4096 ranks: sum only; counts 1 and n+1 (all-gather and reduce-scatter: 1), except ring all-reduce of n+1
// elements, which alone is 33 million simulated steps (half a minute): it runs 97 elements instead. Placements
// alternate. Exact, so a misrouted chunk or a rank lost among thousands shows.
class PlanSimScaleTest : public testing::TestWithParam<SimCase> {};

TEST_P(PlanSimScaleTest, ExactAtThousandsOfRanks) {
  const SimCase& sc = GetParam();
  int runs = 0;
  for (int n : {1024, 4096}) {
    if (!offers(*sc.algo, sc.coll, n)) {
      printf("%s declines %s on %d ranks (supports() is false): not simulated\n", sc.algo->name(), collName(sc.coll),
             n);
      continue;
    }
    const bool wide = sc.coll == CollType::kAllGather || sc.coll == CollType::kReduceScatter;
    std::vector<uint64_t> counts = {1};
    if (wide && n == 1024) counts.push_back(3);
    const bool ringAllReduce = std::string(sc.algo->name()) == "ring" && sc.coll == CollType::kAllReduce;
    if (!wide) counts.push_back(n == 4096 && ringAllReduce ? 97 : static_cast<uint64_t>(n) + 1);
    std::vector<mixcclRedOp_t> ops = {mixcclSum};
    if (reduces(sc.coll) && n == 1024) ops.push_back(mixcclMax);
    for (uint64_t count : counts) {
      for (mixcclRedOp_t op : ops) {
        const bool inPlace = runs++ % 2 == 1;
        const int root = rooted(sc.coll) ? n / 3 : 0;
        const uint64_t chunk = 257;
        const auto start = std::chrono::steady_clock::now();
        SimStats stats;
        const int64_t wrong = runOne(sc, n, count, op, root, inPlace, chunk, &stats);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        printf("%s %s %s n=%d count=%llu %s: %llu steps, %llu messages, %.0f ms\n", sc.algo->name(), collName(sc.coll),
               redOpName(op), n, static_cast<unsigned long long>(count), inPlace ? "in-place" : "out-of-place",
               static_cast<unsigned long long>(stats.steps), static_cast<unsigned long long>(stats.messages), ms);
        EXPECT_EQ(wrong, 0) << collName(sc.coll) << " " << dataTypeName(sc.dtype) << " " << redOpName(op) << " n=" << n
                            << " count=" << count << (wrong < 0 ? ": simulation failed (see log)" : " wrong elements");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, PlanSimScaleTest, testing::ValuesIn(casesOf({mixcclFloat32})), caseName);

// Float sums of random data are not exact, so the order of the additions shows in the bits: every rank must still
// end with the same bits (each element reduced once, or in the same order everywhere), close to the true sum.
class BitwiseIdenticalTest : public testing::TestWithParam<const Algorithm*> {};

TEST_P(BitwiseIdenticalTest, AllReduceOfRandomFloatsIsTheSameOnEveryRank) {
  const Algorithm& algo = *GetParam();
  for (int n : {2, 3, 6, 8, 13, 64}) {
    const uint64_t count = 1009;
    CollArgs args{CollType::kAllReduce, count, mixcclFloat32, mixcclSum, 0};
    std::mt19937 gen(1234 + n);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<std::vector<float>> send(n, std::vector<float>(count)), recv(n, std::vector<float>(count, 0.f));
    std::vector<double> exact(count, 0.0);
    std::vector<SimRankBuffers> bufs(n);
    for (int r = 0; r < n; ++r) {
      for (uint64_t i = 0; i < count; ++i) {
        send[r][i] = dist(gen) * std::ldexp(1.0f, static_cast<int>(i % 17) - 8);  // magnitudes 2^-8 .. 2^8
        exact[i] += send[r][i];
      }
      bufs[r] = {send[r].data(), recv[r].data()};
    }
    SimOptions options;
    options.chunkBytes = 97 * sizeof(float);
    ASSERT_EQ(simulate(algo, args, n, options, bufs, nullptr), mixcclSuccess) << "n=" << n;
    uint64_t differing = 0, far = 0;
    for (int r = 1; r < n; ++r) differing += memcmp(recv[r].data(), recv[0].data(), count * sizeof(float)) != 0;
    for (uint64_t i = 0; i < count; ++i) far += std::fabs(recv[0][i] - exact[i]) > 1e-4 * (1 + std::fabs(exact[i])) * n;
    EXPECT_EQ(differing, 0u) << algo.name() << " n=" << n << ": ranks whose result differs from rank 0's";
    EXPECT_EQ(far, 0u) << algo.name() << " n=" << n << ": elements far from the true sum";
  }
}

std::vector<const Algorithm*> allReduceAlgorithms() {
  std::vector<const Algorithm*> out;
  for (const Algorithm* a : allAlgorithms()) {
    if (offers(*a, CollType::kAllReduce, 64)) out.push_back(a);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, BitwiseIdenticalTest, testing::ValuesIn(allReduceAlgorithms()),
                         [](const testing::TestParamInfo<const Algorithm*>& info) {
                           return std::string(info.param->name());
                         });

// The matching rule of engine/plan.h: a rank's sends to one peer on one channel sit in one lane, and so do its
// receives from one peer on one channel; channels stay below what the transports offer (3). Checked on every
// rank's plan for every algorithm x collective it offers, 1..24 ranks, a count that gives every rank several
// chunks.
TEST(PlanLanes, EachDirectionOfEachPairAndChannelBelongsToOneLane) {
  constexpr int kTransportChannels = 3;
  for (const Algorithm* a : allAlgorithms()) {
    for (int c = 0; c < kNumCollTypes; ++c) {
      for (int n = 1; n <= 24; ++n) {
        if (!offers(*a, static_cast<CollType>(c), n)) continue;
        CollArgs args{static_cast<CollType>(c), 1000, mixcclFloat32, mixcclSum, n / 2};
        const ClusterView view = ClusterView::singleHost(n);
        for (int r = 0; r < n; ++r) {
          const Plan plan = a->plan(args, PlanContext{r, n, 64 * sizeof(float), &view});
          ASSERT_EQ(laneOwnershipProblem(plan, n, kTransportChannels), "")
              << a->name() << " " << collName(args.type) << " n=" << n << " rank " << r;
        }
      }
    }
  }
}

// Ring all-reduce is bandwidth optimal: every rank sends 2(n-1)/n of the data.
TEST(PlanSimRing, AllReduceMovesTwoNMinusOneOverNOfTheData) {
  const Algorithm* ring = findAlgorithm("ring");
  ASSERT_NE(ring, nullptr);
  SimCase sc{ring, CollType::kAllReduce, mixcclFloat32};
  for (int n : {2, 3, 8, 17}) {
    const uint64_t count = 64 * n;  // divisible: every block is count / n
    SimStats stats;
    ASSERT_EQ(runOne(sc, n, count, mixcclSum, 0, false, 16, &stats), 0);
    EXPECT_EQ(stats.bytesOnWire, 2ull * (n - 1) * count * sizeof(float)) << "n=" << n;
  }
}

// So is Rabenseifner's on a power of two; a non-power-of-two adds the fold and unfold of the extra ranks (a whole
// vector each way per folded pair).
TEST(PlanSimRhd, AllReduceMovesTwoNMinusOneOverNOfTheDataPlusTheFold) {
  const Algorithm* rhd = findAlgorithm("rhd");
  ASSERT_NE(rhd, nullptr);
  SimCase sc{rhd, CollType::kAllReduce, mixcclFloat32};
  for (int n : {2, 4, 8, 32, 3, 6, 12}) {
    int p = 1;
    while (p * 2 <= n) p *= 2;
    const uint64_t count = 64 * p;
    SimStats stats;
    ASSERT_EQ(runOne(sc, n, count, mixcclSum, 0, false, 16, &stats), 0);
    const uint64_t fold = 2ull * (n - p) * count * sizeof(float);
    EXPECT_EQ(stats.bytesOnWire, 2ull * (p - 1) * count * sizeof(float) + fold) << "n=" << n;
  }
}

// The double binary tree sends every element up each edge once and down each edge once: 2 (n-1) x count.
TEST(PlanSimTree, AllReduceCrossesEachTreeEdgeTwice) {
  const Algorithm* tree = findAlgorithm("tree");
  ASSERT_NE(tree, nullptr);
  SimCase sc{tree, CollType::kAllReduce, mixcclFloat32};
  for (int n : {2, 3, 7, 16}) {
    const uint64_t count = 1000;
    SimStats stats;
    ASSERT_EQ(runOne(sc, n, count, mixcclSum, 0, false, 16, &stats), 0);
    EXPECT_EQ(stats.bytesOnWire, 2ull * (n - 1) * count * sizeof(float)) << "n=" << n;
  }
}

}  // namespace
}  // namespace mixccl

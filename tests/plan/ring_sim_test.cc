// Plan simulator: every algorithm x collective x data type (one test each), and inside each test every rank
// count 1..64 x counts {0, 1, n-1, n, n+1, a large prime} x operator x in/out of place, against exact references.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/datatype.h"
#include "engine/simulator.h"
#include "support/exact_data.h"

namespace mixccl {
namespace {

// "A large prime" count: larger than any rank count and than a chunk, divisible by nothing. All-gather and
// reduce-scatter buffers hold count x n elements per rank (n^2 x count over all ranks), so beyond 16 ranks they
// use a smaller prime to keep the whole matrix within a CI budget.
constexpr uint64_t kLargePrime = 1009;
constexpr uint64_t kLargePrimeWide = 211;

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

std::vector<SimCase> allCases() {
  std::vector<SimCase> cases;
  for (const Algorithm* a : allAlgorithms()) {
    for (int c = 0; c < kNumCollTypes; ++c) {
      for (int dt = 0; dt < mixcclNumTypes; ++dt) {
        cases.push_back({a, static_cast<CollType>(c), static_cast<mixcclDataType_t>(dt)});
      }
    }
  }
  return cases;
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
  int failures = 0;
  for (int n = 1; n <= 64 && failures < 5; ++n) {
    const bool wide = sc.coll == CollType::kAllGather || sc.coll == CollType::kReduceScatter;
    const uint64_t prime = wide && n > 16 ? kLargePrimeWide : kLargePrime;
    const uint64_t counts[] = {0, 1, static_cast<uint64_t>(n - 1), static_cast<uint64_t>(n),
                               static_cast<uint64_t>(n + 1), prime};
    for (uint64_t count : counts) {
      for (mixcclRedOp_t op : ops) {
        for (bool inPlace : {false, true}) {
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
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, PlanSimTest, testing::ValuesIn(allCases()), caseName);

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

}  // namespace
}  // namespace mixccl

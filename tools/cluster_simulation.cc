#include "tools/cluster_simulation.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/datatype.h"
#include "engine/simulator.h"
#include "support/exact_data.h"
#include "tuning/selection_table.h"

namespace mixccl {
namespace {

constexpr uint64_t kBufferBudget = 256ull << 20;  // bytes of simulated buffers, all ranks together

// Largest per-rank byte size of `type` within the budget, rounded down to a multiple of 4.
uint64_t budgetBytes(CollType type, int n) {
  const bool wide = type == CollType::kAllGather || type == CollType::kReduceScatter;
  const uint64_t perRankShare = kBufferBudget / (2ull * n * (wide ? n : 1));
  return perRankShare / 4 * 4;
}

// Simulates one collective of `count` floats with the exact-data inputs; returns the number of wrong elements
// over all ranks, or -1 if the simulation failed (logged).
int64_t simulateOne(const Algorithm& algo, const CollArgs& args, const ClusterView& view, uint64_t chunkBytes,
                    SimStats* stats) {
  const int n = view.nranks();
  const int coll = static_cast<int>(args.type);
  const size_t esz = dataTypeSize(args.dtype);
  const uint64_t sendN = sendElements(args, n), recvN = recvElements(args, n);
  std::vector<std::vector<char>> send(n), recv(n);
  std::vector<SimRankBuffers> bufs(n);
  for (int r = 0; r < n; ++r) {
    send[r].assign(sendN * esz + 1, 0);
    recv[r].assign(recvN * esz + 1, 0);
    testdata::fillSend(coll, send[r].data(), args.count, args.dtype, args.op, args.root, r, n);
    bufs[r] = {send[r].data(), recv[r].data()};
  }
  SimOptions options;
  options.chunkBytes = chunkBytes;
  options.cluster = &view;
  if (simulate(algo, args, n, options, bufs, stats) != mixcclSuccess) return -1;
  // The expected result is computed once: every rank's receive buffer must equal it (reduce: the root's only),
  // except reduce-scatter, where rank r must hold slice r of the reduced vector.
  const bool scatter = args.type == CollType::kReduceScatter;
  std::vector<char> want((scatter ? args.count * n : recvN) * esz + 1);
  if (scatter) {
    testdata::fillReduced(want.data(), args.op, args.dtype, n, 0, args.count * n);
  } else {
    testdata::fillExpectedRecv(coll, want.data(), args.count, args.dtype, args.op, args.root, args.root, n);
  }
  int64_t wrong = 0;
  for (int r = 0; r < n; ++r) {
    if (args.type == CollType::kReduce && r != args.root) continue;
    const char* expect = want.data() + (scatter ? r * args.count * esz : 0);
    wrong += static_cast<int64_t>(testdata::countWrong(recv[r].data(), expect, args.dtype, recvN));
  }
  return wrong;
}

}  // namespace

int simulateCluster(const ClusterView& view, const Selector& selector, uint64_t chunkBytes, FILE* out) {
  const int n = view.nranks();
  int failures = 0;
  fprintf(out, "%-15s %10s %-13s %12s %14s %12s %9s  %s\n", "collective", "size", "algorithm", "messages",
          "wire bytes", "modelled us", "sim s", "result");
  for (int c = 0; c < kNumCollTypes; ++c) {
    const CollType type = static_cast<CollType>(c);
    uint64_t previous = 0;
    for (uint64_t want : {uint64_t{4}, uint64_t{64} << 10, uint64_t{16} << 20}) {
      const uint64_t bytes = std::min(want, budgetBytes(type, n));
      if (bytes < 4 || bytes == previous) continue;
      previous = bytes;
      CollArgs args{type, bytes / 4, mixcclFloat32, mixcclSum, n > 1 ? 1 : 0};
      PlanContext ctx{0, n, chunkBytes, &view};
      const Algorithm* algo = nullptr;
      if (selector.select(args, ctx, &algo) != mixcclSuccess) {
        ++failures;
        continue;
      }
      // The simulator gives every FIFO slots of the chunk size: for small buffers on thousands of ranks a smaller
      // chunk keeps its memory in bounds (only chunk boundaries change, not the schedule).
      const uint64_t simChunk = std::max<uint64_t>(4, std::min<uint64_t>(chunkBytes, bytes));
      SimStats stats;
      const auto t0 = std::chrono::steady_clock::now();
      const int64_t wrong = simulateOne(*algo, args, view, simChunk, &stats);
      const double simSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (wrong != 0) ++failures;
      fprintf(out, "%-15s %10s %-13s %12llu %14llu %12.4g %9.3f  %s\n", collName(type), formatBytes(bytes).c_str(),
              algo->name(), static_cast<unsigned long long>(stats.messages),
              static_cast<unsigned long long>(stats.bytesOnWire), algo->estimate(args, ctx) * 1e6, simSec,
              wrong == 0 ? "exact" : wrong < 0 ? "FAILED (see log)" : (std::to_string(wrong) + " wrong").c_str());
    }
  }
  return failures;
}

}  // namespace mixccl

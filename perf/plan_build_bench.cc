// Plan construction cost: builds the plans of every algorithm x collective it offers for 1024, 2048 and 4096 ranks
// (a sample of ranks spread over the communicator) and prints, per (algorithm, collective, ranks), the time per
// plan and the plan's size (steps, bytes), so a reader sees the time against the 10 ms target and the memory
// growing linearly with the rank count. Every plan is checked with validatePlan; exit 1 on a malformed plan.
//
//   plan_build_bench [--ranks 1024,2048,4096] [--samples 64] [--chunk-bytes 131072]
//
// Sizes: all-reduce, broadcast, reduce move 4 MiB (1 Mi floats); all-gather and reduce-scatter move 256 floats per
// rank (1 Mi floats in all at 4096 ranks). The cluster is one host per rank (ClusterView::hostPerRank), so an
// algorithm limited to one host (direct) says that it declines.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "engine/coll_args.h"
#include "engine/plan.h"

namespace mixccl {
namespace {

struct Options {
  std::vector<int> ranks = {1024, 2048, 4096};
  int samples = 64;
  uint64_t chunkBytes = 128 << 10;
};

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const bool more = i + 1 < argc;
    if (strcmp(argv[i], "--ranks") == 0 && more) {
      o->ranks.clear();
      for (char* tok = strtok(argv[++i], ","); tok != nullptr; tok = strtok(nullptr, ",")) {
        o->ranks.push_back(atoi(tok));
      }
    } else if (strcmp(argv[i], "--samples") == 0 && more) {
      o->samples = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--chunk-bytes") == 0 && more) {
      o->chunkBytes = strtoull(argv[++i], nullptr, 10);
    } else {
      fprintf(stderr, "usage: %s [--ranks 1024,2048,4096] [--samples 64] [--chunk-bytes 131072]\n", argv[0]);
      return false;
    }
  }
  return !o->ranks.empty() && o->samples > 0 && o->chunkBytes > 0;
}

uint64_t planBytes(const Plan& p) {
  return sizeof(Plan) + p.steps.capacity() * sizeof(Step) + p.laneBegin.capacity() * sizeof(uint32_t);
}

int run(const Options& o) {
  printf("%-8s %-15s %6s %8s %12s %12s %14s %10s\n", "algo", "collective", "ranks", "sampled", "ms/plan", "steps/plan",
         "bytes/plan", "bytes/rank");
  int bad = 0;
  double worst = 0;
  for (const Algorithm* algo : allAlgorithms()) {
    for (int c = 0; c < kNumCollTypes; ++c) {
      const CollType coll = static_cast<CollType>(c);
      const bool wide = coll == CollType::kAllGather || coll == CollType::kReduceScatter;
      CollArgs args{coll, wide ? 256u : 1u << 20, mixcclFloat32, mixcclSum, 0};
      for (int n : o.ranks) {
        const ClusterView view = ClusterView::hostPerRank(n);
        PlanContext ctx{0, n, o.chunkBytes, &view};
        if (!algo->supports(args, ctx)) {
          printf("%-8s %-15s %6d   declines (supports() is false)\n", algo->name(), collName(coll), n);
          continue;
        }
        args.root = n / 3;
        const int samples = std::min(o.samples, n);
        double seconds = 0;
        uint64_t steps = 0, bytes = 0;
        for (int s = 0; s < samples; ++s) {
          ctx.rank = static_cast<int>(static_cast<int64_t>(s) * n / samples);
          const auto start = std::chrono::steady_clock::now();
          Plan plan = algo->plan(args, ctx);
          seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          steps += plan.steps.size();
          bytes += planBytes(plan);
          std::string problem =
              validatePlan(plan, ctx.rank, n, sendElements(args, n), recvElements(args, n));
          if (!problem.empty()) {
            fprintf(stderr, "%s %s rank %d/%d: %s\n", algo->name(), collName(coll), ctx.rank, n, problem.c_str());
            ++bad;
          }
        }
        const double ms = seconds * 1e3 / samples;
        if (n == o.ranks.back()) worst = std::max(worst, ms);
        printf("%-8s %-15s %6d %8d %12.4f %12.0f %14.0f %10.1f\n", algo->name(), collName(coll), n, samples, ms,
               double(steps) / samples, double(bytes) / samples, double(bytes) / samples / n);
      }
    }
  }
  printf("slowest plan at %d ranks: %.3f ms (target < 10 ms)\n", o.ranks.back(), worst);
  return bad == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mixccl

int main(int argc, char** argv) {
  mixccl::Options o;
  if (!mixccl::parse(argc, argv, &o)) return 2;
  return mixccl::run(o);
}

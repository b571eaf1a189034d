#include "common/sweep.h"

#include <cstdio>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/rank_info.h"
#include "common/report.h"
#include "common/row_bench.h"

namespace mixccl::perf {
namespace {

std::vector<int> rootsToRun(const RankContext& ctx, const Options& o, const Collective& coll) {
  if (!coll.hasRoot) return {-1};
  if (!o.allRoots) {
    if (o.root >= ctx.nranks) {
      throw UsageError("-r " + std::to_string(o.root) + ": there are only " + std::to_string(ctx.nranks) + " ranks");
    }
    return {o.root};
  }
  std::vector<int> roots;
  for (int r = 0; r < ctx.nranks; ++r) roots.push_back(r);
  return roots;
}

void print(const RankContext& ctx, const std::string& text) {
  if (ctx.rank != 0) return;
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int runSweep(const RankContext& ctx, const Options& options, const Collective& coll) {
  std::vector<int> roots = rootsToRun(ctx, options, coll);
  std::vector<mixcclRedOp_t> ops = coll.hasOp ? options.ops : std::vector<mixcclRedOp_t>{mixcclSum};
  std::vector<size_t> sizes = sizeSweep(options);

  std::vector<RankInfo> ranks = gatherRankInfo(ctx);
  print(ctx, headerText(coll.name, options, ranks));

  RowBench bench(ctx, options, coll);
  RunSummary summary;
  summary.program = coll.name;
  summary.nranks = ctx.nranks;
  summary.memory = runMemory(ranks);
  double busBwSum = 0;
  for (mixcclDataType_t dt : options.types) {
    for (mixcclRedOp_t op : ops) {
      for (int root : roots) {
        for (size_t bytes : sizes) {
          ResultRow row = bench.run(dt, op, root < 0 ? 0 : root, bytes);
          print(ctx, rowText(row));
          busBwSum += row.outOfPlace.busBw + row.inPlace.busBw;
          summary.totalWrong += static_cast<uint64_t>(std::max<int64_t>(row.outOfPlace.wrong, 0)) +
                                static_cast<uint64_t>(std::max<int64_t>(row.inPlace.wrong, 0));
          summary.rows.push_back(std::move(row));
        }
      }
    }
  }
  summary.avgBusBw = summary.rows.empty() ? 0 : busBwSum / (2.0 * static_cast<double>(summary.rows.size()));
  print(ctx, footerText(summary.totalWrong, summary.avgBusBw));
  if (ctx.rank == 0 && !options.jsonPath.empty()) writeJsonFile(options.jsonPath, options, summary);
  return summary.totalWrong == 0 ? kExitOk : kExitWrong;
}

}  // namespace mixccl::perf

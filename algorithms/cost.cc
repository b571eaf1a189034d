#include "algorithms/cost.h"

#include <algorithm>
#include <cmath>

#include "core/datatype.h"

namespace mixccl {

double fullBytes(const CollArgs& args, int nranks) {
  double bytes = static_cast<double>(args.count) * static_cast<double>(dataTypeSize(args.dtype));
  if (args.type == CollType::kAllGather || args.type == CollType::kReduceScatter) bytes *= nranks;
  return bytes;
}

namespace {

// The cost of `c` in ctx's cluster, or in the default costs when the context has no cluster (a single host).
LinkCost costOf(const PlanContext& ctx, LinkClass c) {
  if (ctx.cluster != nullptr) return ctx.cluster->cost(c);
  LinkCost defaults[kNumLinkClasses];
  ClusterView::defaultCosts(defaults);
  return defaults[static_cast<int>(c)];
}

}  // namespace

LinkCost ringCost(const PlanContext& ctx) {
  const ClusterView* view = ctx.cluster;
  if (view == nullptr || view->nranks() < 2) return costOf(ctx, LinkClass::kSameHost);
  // Classes only grow farther; remember the farthest seen instead of comparing every link's numbers.
  const int n = view->nranks();
  int farthest = 0;
  for (int r = 0; r < n; ++r) farthest = std::max(farthest, static_cast<int>(view->linkClass(r, (r + 1) % n)));
  return view->cost(static_cast<LinkClass>(farthest));
}

LinkCost widestCost(const PlanContext& ctx) {
  return costOf(ctx, ctx.cluster != nullptr ? ctx.cluster->widestClass() : LinkClass::kSameHost);
}

double pipelinedSeconds(const LinkCost& link, double bytes, double messages, double chunkBytes) {
  if (bytes <= 0 || messages <= 0) return 0;
  const double chunks = std::max(1.0, std::ceil(bytes / std::max(1.0, chunkBytes)));
  return messages * (chunks * (link.alphaSec + 2 * link.overheadSec) + bytes / link.bytesPerSec);
}

}  // namespace mixccl

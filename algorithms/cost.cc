#include "algorithms/cost.h"

#include <algorithm>
#include <cmath>

#include "core/datatype.h"

namespace mixccl {

const ClusterView& clusterOf(const PlanContext& ctx, ClusterView* fallback) {
  if (ctx.cluster != nullptr) return *ctx.cluster;
  *fallback = ClusterView::singleHost(ctx.nranks);
  return *fallback;
}

double fullBytes(const CollArgs& args, int nranks) {
  double bytes = static_cast<double>(args.count) * static_cast<double>(dataTypeSize(args.dtype));
  if (args.type == CollType::kAllGather || args.type == CollType::kReduceScatter) bytes *= nranks;
  return bytes;
}

namespace {

// The slower of two links for a transfer of `bytes`.
LinkCost slower(const LinkCost& a, const LinkCost& b) {
  const bool aSlower = a.alphaSec >= b.alphaSec && a.bytesPerSec <= b.bytesPerSec && a.overheadSec >= b.overheadSec;
  if (aSlower) return a;
  const bool bSlower = b.alphaSec >= a.alphaSec && b.bytesPerSec <= a.bytesPerSec && b.overheadSec >= a.overheadSec;
  if (bSlower) return b;
  return {std::max(a.alphaSec, b.alphaSec), std::min(a.bytesPerSec, b.bytesPerSec),
          std::max(a.overheadSec, b.overheadSec)};
}

}  // namespace

LinkCost ringLink(const ClusterView& view) {
  const int n = view.nranks();
  if (n < 2) return view.cost(LinkClass::kSameHost);
  // Classes only grow farther; remember the farthest seen instead of comparing every link's numbers.
  int farthest = 0;
  for (int r = 0; r < n; ++r) farthest = std::max(farthest, static_cast<int>(view.linkClass(r, (r + 1) % n)));
  return view.cost(static_cast<LinkClass>(farthest));
}

LinkCost widestLink(const ClusterView& view) {
  LinkCost worst = view.cost(LinkClass::kSameDevice);
  for (int c = 1; c <= static_cast<int>(view.widestClass()); ++c) worst = slower(worst, view.cost(static_cast<LinkClass>(c)));
  return worst;
}

double pipelinedSeconds(const LinkCost& link, double bytes, double messages, double chunkBytes) {
  if (bytes <= 0 || messages <= 0) return 0;
  const double chunks = std::max(1.0, std::ceil(bytes / std::max(1.0, chunkBytes)));
  return messages * (chunks * (link.alphaSec + 2 * link.overheadSec) + bytes / link.bytesPerSec);
}

}  // namespace mixccl

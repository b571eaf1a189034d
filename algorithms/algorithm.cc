#include "algorithms/algorithm.h"

#include "algorithms/partition.h"
#include "core/datatype.h"

namespace mixccl {

uint64_t chunkElements(const CollArgs& args, const PlanContext& ctx) {
  const uint64_t chunk = ctx.chunkBytes / dataTypeSize(args.dtype);
  return chunk == 0 ? 1 : chunk;
}

Plan singleRankPlan(const CollArgs& args, uint64_t chunk, bool final) {
  Plan plan;
  for (uint64_t k = 0, K = ceilDiv(args.count, chunk); k < K; ++k) {
    const Range c = chunkRange(args.count, chunk, k);
    plan.emit(-1, -1, Slice{BufKind::kSend, c.begin}, Slice{BufKind::kRecv, c.begin}, c.size, final);
  }
  plan.endLane();
  return plan;
}

}  // namespace mixccl

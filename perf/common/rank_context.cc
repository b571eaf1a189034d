#include "common/rank_context.h"

#include "common/perf_error.h"

namespace mixccl::perf {

void barrier(const RankContext& ctx) {
  float token = 0;
  checkResult(mixcclAllReduce(&token, &token, 1, mixcclFloat32, mixcclSum, ctx.comm, nullptr),
              "mixcclAllReduce (barrier)", ctx.comm);
}

double allReduceDouble(const RankContext& ctx, double value, mixcclRedOp_t op) {
  double result = 0;
  checkResult(mixcclAllReduce(&value, &result, 1, mixcclFloat64, op, ctx.comm, nullptr),
              "mixcclAllReduce (combining times)", ctx.comm);
  return result;
}

uint64_t allReduceSum(const RankContext& ctx, uint64_t value) {
  uint64_t result = 0;
  checkResult(mixcclAllReduce(&value, &result, 1, mixcclUint64, mixcclSum, ctx.comm, nullptr),
              "mixcclAllReduce (counting #wrong)", ctx.comm);
  return result;
}

}  // namespace mixccl::perf

#pragma once
// Measures one row of the table: one size, type, op and root, out-of-place then in-place, following
// NCCL-TESTS-FORMAT.md "Timing" and "Correctness":
//
//   warm-up iters, one untimed op, barrier, steady_clock around `iters` back-to-back ops -> time per op, combined over
//   ranks per -a; then, with -c > 0, `check` rounds of: fill exact inputs, one op, compare bitwise with the expected
//   output, #wrong summed over ranks.
//
// Buffers are host memory allocated once for the largest size; the in-place variant uses the receive buffer as its
// single buffer, at the collective's in-place offsets.
#include <cstddef>

#include "common/collective.h"
#include "common/host_buffer.h"
#include "common/options.h"
#include "common/rank_context.h"
#include "common/report.h"

namespace mixccl::perf {

class RowBench {
 public:
  RowBench(const RankContext& ctx, const Options& options, const Collective& coll);

  // Collective: every rank calls it with the same arguments. Throws PerfError.
  ResultRow run(mixcclDataType_t dt, mixcclRedOp_t op, int root, size_t bytes);

 private:
  VariantResult runVariant(mixcclDataType_t dt, mixcclRedOp_t op, int root, const CollCounts& counts, size_t bytes,
                           bool inPlace);
  double timeVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root, size_t count,
                     const char* what);
  uint64_t checkVariant(char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                        const CollCounts& counts, const char* what);
  double combineTime(double seconds);

  RankContext ctx_;
  const Options& options_;
  const Collective& coll_;
  HostBuffer send_;
  HostBuffer recv_;
  HostBuffer expected_;
};

}  // namespace mixccl::perf

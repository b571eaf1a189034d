#pragma once
// Measures one row of the table: one size, type, op and root, out-of-place then in-place, following
// NCCL-TESTS-FORMAT.md "Timing" and "Correctness":
//
//   warm-up iters, one untimed op, barrier, steady_clock around `iters` back-to-back ops -> time per op, combined over
//   ranks per -a; then, with -c > 0, `check` rounds of: fill exact inputs, one op, compare bitwise with the expected
//   output, #wrong summed over ranks.
//
// Buffers are allocated once for the largest size; the in-place variant uses the receive buffer as its single
// buffer, at the collective's in-place offsets. On host memory the collective works on the host buffers and every call
// has completed when it returns. On device memory (ctx.gpu set) it works on device buffers and is issued on the rank's
// stream, as in nccl-tests: the timed loop waits for the stream (streamSynchronize) before it reads the clock, the
// untimed op is waited for before the barrier, -z waits after every op; inputs are filled in the host buffers and
// copied to the device on the stream, outputs copied back and checked on the host.
#include <cstddef>

#include "common/collective.h"
#include "common/host_buffer.h"
#include "common/options.h"
#include "common/rank_context.h"
#include "common/rank_gpu.h"
#include "common/report.h"

namespace mixccl::perf {

class RowBench {
 public:
  RowBench(const RankContext& ctx, const Options& options, const Collective& coll);
  ~RowBench();  // device memory: waits for the stream first (a failed row may leave copies into the buffers queued)
  RowBench(const RowBench&) = delete;
  RowBench& operator=(const RowBench&) = delete;

  // Collective: every rank calls it with the same arguments. Throws PerfError.
  ResultRow run(mixcclDataType_t dt, mixcclRedOp_t op, int root, size_t bytes);

 private:
  VariantResult runVariant(mixcclDataType_t dt, mixcclRedOp_t op, int root, const CollCounts& counts, size_t bytes,
                           bool inPlace);
  double timeVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root, size_t count,
                     const char* what);
  uint64_t checkVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                        const CollCounts& counts, bool inPlace, const char* what);
  double combineTime(double seconds);
  // Device memory only (no-ops on host memory): copies on the rank's stream, and waiting for it.
  void toDevice(char* dst, const char* src, size_t bytes);
  void toHost(char* dst, const char* src, size_t bytes);
  void syncStream(const char* what);

  RankContext ctx_;
  const Options& options_;
  const Collective& coll_;
  // Host memory: the buffers of the calls. Device memory: pinned mirrors, where inputs are filled and outputs read.
  HostBuffer send_;
  HostBuffer recv_;
  HostBuffer expected_;
  DeviceBuffer deviceSend_;  // device memory only: the buffers of the calls
  DeviceBuffer deviceRecv_;
};

}  // namespace mixccl::perf

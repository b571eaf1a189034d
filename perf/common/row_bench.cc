#include "common/row_bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "common/perf_error.h"
#include "core/datatype.h"
#include "support/exact_data.h"

namespace mixccl::perf {
namespace {

// Fills a receive buffer before a checked op, so an element the op never writes shows up as wrong.
constexpr int kPoisonByte = 0xA5;

}  // namespace

RowBench::RowBench(const RankContext& ctx, const Options& options, const Collective& coll)
    : ctx_(ctx),
      options_(options),
      coll_(coll),
      send_(options.maxBytes, ctx.gpu),
      recv_(options.maxBytes, ctx.gpu),
      expected_(options.maxBytes),
      deviceSend_(ctx.gpu, options.maxBytes),
      deviceRecv_(ctx.gpu, options.maxBytes) {}

RowBench::~RowBench() {
  if (ctx_.gpu != nullptr) ctx_.gpu->streamSynchronize(ctx_.stream);  // a failure is logged by the backend
}

ResultRow RowBench::run(mixcclDataType_t dt, mixcclRedOp_t op, int root, size_t bytes) {
  size_t elt = dataTypeSize(dt);
  CollCounts counts = coll_.counts(bytes / elt, elt, ctx_.nranks, ctx_.rank);
  ResultRow row;
  row.bytes = std::max(counts.sendCount, counts.recvCount) * elt;
  row.count = counts.paramCount;
  row.type = dataTypeName(dt);
  row.redop = coll_.hasOp ? redOpName(op) : "none";
  row.root = coll_.hasRoot ? root : -1;
  if (options_.checkIters > 0) {
    testdata::fillExpectedRecv(coll_.exactColl, expected_.data(), counts.paramCount, dt, op, root, ctx_.rank,
                               ctx_.nranks);
  }
  row.outOfPlace = runVariant(dt, op, root, counts, row.bytes, false);
  row.inPlace = runVariant(dt, op, root, counts, row.bytes, true);
  return row;
}

VariantResult RowBench::runVariant(mixcclDataType_t dt, mixcclRedOp_t op, int root, const CollCounts& counts,
                                   size_t bytes, bool inPlace) {
  size_t elt = dataTypeSize(dt);
  char* sendBase = ctx_.gpu != nullptr ? deviceSend_.data() : send_.data();
  char* recvBase = ctx_.gpu != nullptr ? deviceRecv_.data() : recv_.data();
  char* send = inPlace ? recvBase + counts.sendInPlace * elt : sendBase;
  char* recv = inPlace ? recvBase + counts.recvInPlace * elt : recvBase;
  std::string what = std::string(coll_.callName) + " (" + std::to_string(bytes) + " B, " + dataTypeName(dt) +
                     (coll_.hasOp ? std::string(", ") + redOpName(op) : "") +
                     (coll_.hasRoot ? ", root " + std::to_string(root) : "") +
                     (inPlace ? ", in-place)" : ", out-of-place)");

  VariantResult result;
  double seconds = combineTime(timeVariant(send, recv, dt, op, root, counts.paramCount, what.c_str()));
  result.timeUs = seconds * 1e6;
  double gbytes = static_cast<double>(bytes) / 1e9;
  result.algBw = seconds > 0 ? gbytes / seconds : 0;
  result.busBw = result.algBw * coll_.busBwFactor(ctx_.nranks);
  if (options_.checkIters > 0) {
    uint64_t wrong = checkVariant(send, recv, dt, op, root, counts, inPlace, what.c_str());
    result.wrong = static_cast<int64_t>(allReduceSum(ctx_, wrong));
  }
  return result;
}

double RowBench::timeVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                             size_t count, const char* what) {
  auto once = [&] {
    checkResult(coll_.call(send, recv, count, dt, op, root, ctx_.comm, ctx_.stream), what, ctx_.comm);
  };
  for (int i = 0; i < options_.warmupIters; ++i) once();
  once();  // untimed, as nccl-tests does before its barrier
  syncStream(what);
  barrier(ctx_);
  // Host buffers: every op has completed when it returns, so -z (synchronise after each op) adds nothing. Device
  // buffers: the ops are queued on the stream, and the clock stops once the stream has run them all.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options_.iters; ++i) {
    once();
    if (options_.blocking) syncStream(what);
  }
  syncStream(what);
  auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stop - start).count() / options_.iters;
}

uint64_t RowBench::checkVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                                const CollCounts& counts, bool inPlace, const char* what) {
  size_t elt = dataTypeSize(dt);
  // The host side of the call's buffers: the buffers themselves on host memory, their copies on device memory.
  char* hostSend = inPlace ? recv_.data() + counts.sendInPlace * elt : send_.data();
  char* hostRecv = inPlace ? recv_.data() + counts.recvInPlace * elt : recv_.data();
  uint64_t wrong = 0;
  for (int i = 0; i < options_.checkIters; ++i) {
    // In place, the poison covers the whole single buffer and the send region is filled on top of it.
    size_t poisonCount = inPlace ? std::max(counts.sendCount, counts.recvCount) : counts.recvCount;
    std::memset(recv_.data(), kPoisonByte, poisonCount * elt);
    testdata::fillSend(coll_.exactColl, hostSend, counts.paramCount, dt, op, root, ctx_.rank, ctx_.nranks);
    toDevice(deviceRecv_.data(), recv_.data(), poisonCount * elt);
    if (!inPlace) toDevice(deviceSend_.data(), send_.data(), counts.sendCount * elt);
    checkResult(coll_.call(send, recv, counts.paramCount, dt, op, root, ctx_.comm, ctx_.stream), what, ctx_.comm);
    if (coll_.exactColl == 4 && ctx_.rank != root) {  // reduce: only the root receives
      syncStream(what);
      continue;
    }
    toHost(hostRecv, recv, counts.recvCount * elt);
    syncStream(what);
    wrong += testdata::countWrong(hostRecv, expected_.data(), dt, counts.recvCount);
  }
  return wrong;
}

double RowBench::combineTime(double seconds) {
  switch (options_.average) {
    case Average::kRank0:
      return seconds;  // only rank 0 prints, so its own time is the answer
    case Average::kMean:
      return allReduceDouble(ctx_, seconds, mixcclSum) / ctx_.nranks;
    case Average::kMin:
      return allReduceDouble(ctx_, seconds, mixcclMin);
    case Average::kMax:
      return allReduceDouble(ctx_, seconds, mixcclMax);
  }
  return seconds;
}

void RowBench::toDevice(char* dst, const char* src, size_t bytes) {
  if (ctx_.gpu == nullptr || bytes == 0) return;
  checkResult(ctx_.gpu->copyAsync(dst, src, bytes, ctx_.stream), "copying inputs to the device");
}

void RowBench::toHost(char* dst, const char* src, size_t bytes) {
  if (ctx_.gpu == nullptr || bytes == 0) return;
  checkResult(ctx_.gpu->copyAsync(dst, src, bytes, ctx_.stream), "copying outputs from the device");
}

void RowBench::syncStream(const char* what) {
  if (ctx_.gpu == nullptr) return;
  checkResult(ctx_.gpu->streamSynchronize(ctx_.stream), std::string("waiting for the stream after ") + what);
  // A call that failed after it was queued still releases the stream; its error is the communicator's.
  mixcclResult_t async = mixcclSuccess;
  checkResult(mixcclCommGetAsyncError(ctx_.comm, &async), "mixcclCommGetAsyncError", ctx_.comm);
  if (async != mixcclInProgress) checkResult(async, std::string(what) + " (asynchronous error)", ctx_.comm);
}

}  // namespace mixccl::perf

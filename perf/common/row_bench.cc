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
      send_(options.maxBytes),
      recv_(options.maxBytes),
      expected_(options.maxBytes) {}

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
  char* send = inPlace ? recv_.data() + counts.sendInPlace * elt : send_.data();
  char* recv = inPlace ? recv_.data() + counts.recvInPlace * elt : recv_.data();
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
    uint64_t wrong = checkVariant(send, recv, dt, op, root, counts, what.c_str());
    result.wrong = static_cast<int64_t>(allReduceSum(ctx_, wrong));
  }
  return result;
}

double RowBench::timeVariant(const char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                             size_t count, const char* what) {
  auto once = [&] { checkResult(coll_.call(send, recv, count, dt, op, root, ctx_.comm), what, ctx_.comm); };
  for (int i = 0; i < options_.warmupIters; ++i) once();
  once();  // untimed, as nccl-tests does before its barrier
  barrier(ctx_);
  // Host buffers: every op has completed when it returns, so -z (synchronise after each op) adds nothing.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options_.iters; ++i) once();
  auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stop - start).count() / options_.iters;
}

uint64_t RowBench::checkVariant(char* send, char* recv, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                                const CollCounts& counts, const char* what) {
  size_t elt = dataTypeSize(dt);
  bool inPlace = send != send_.data();
  uint64_t wrong = 0;
  for (int i = 0; i < options_.checkIters; ++i) {
    // In place, the poison covers the whole single buffer and the send region is filled on top of it.
    size_t poisonCount = inPlace ? std::max(counts.sendCount, counts.recvCount) : counts.recvCount;
    std::memset(recv_.data(), kPoisonByte, poisonCount * elt);
    testdata::fillSend(coll_.exactColl, send, counts.paramCount, dt, op, root, ctx_.rank, ctx_.nranks);
    checkResult(coll_.call(send, recv, counts.paramCount, dt, op, root, ctx_.comm), what, ctx_.comm);
    if (coll_.exactColl == 4 && ctx_.rank != root) continue;  // reduce: only the root receives
    wrong += testdata::countWrong(recv, expected_.data(), dt, counts.recvCount);
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

}  // namespace mixccl::perf

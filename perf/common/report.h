#pragma once
// The nccl-tests text format (NCCL-TESTS-FORMAT.md, "Output"): header, column titles, rows, footer. Pure formatting;
// rank 0 prints what these return.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/rank_info.h"

namespace mixccl::perf {

// One variant (out-of-place or in-place) of one row.
struct VariantResult {
  double timeUs = 0;   // time per op, combined over ranks per -a
  double algBw = 0;    // GB/s (1e9 bytes)
  double busBw = 0;    // GB/s
  int64_t wrong = -1;  // mismatching elements over all ranks; -1: not checked
                       // (-c 0), prints N/A
};

struct ResultRow {
  size_t bytes = 0;  // the "size" column: S, the bytes algbw is computed from
  size_t count = 0;  // the count passed to the call
  std::string type;
  std::string redop;  // "none" for collectives without a reduction
  int root = -1;      // -1 for rootless collectives
  VariantResult outOfPlace;
  VariantResult inPlace;
};

// printf("%.2f") if it fits in `width`, else "%.1f", else "%.0f", right-aligned to `width`.
std::string formatNumber(double value, int width);

// "# Collective test starting: ..." through the column titles (ends with a newline). After nccl-tests' lines, a
// "# memory: host|cuda|hip|mixed" line says where the buffers are; device ranks show their device and GPU backend.
std::string headerText(const std::string& program, const Options& options, const std::vector<RankInfo>& ranks);

// One data row (ends with a newline).
std::string rowText(const ResultRow& row);

// "# Out of bounds values : ..." and "# Avg bus bandwidth    : ..." (ends with a newline).
std::string footerText(uint64_t totalWrong, double avgBusBw);

}  // namespace mixccl::perf

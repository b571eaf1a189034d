#pragma once
// --json FILE: the rows of a run, machine-readable. Written by rank 0 to FILE.tmp and renamed onto FILE, so a reader
// never sees a half-written file (a run that fails leaves no FILE, or the previous one).
#include <cstdint>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/report.h"

namespace mixccl::perf {

struct RunSummary {
  std::string program;  // e.g. "all_reduce_perf"
  int nranks = 0;
  std::string memory = "host";  // where the buffers were: host, cuda, hip, mixed
  uint64_t totalWrong = 0;
  double avgBusBw = 0;
  std::vector<ResultRow> rows;
};

// The JSON document for a run (pretty-printed, one row per line).
std::string jsonText(const Options& options, const RunSummary& summary);

// Writes jsonText() atomically to `path`. Throws PerfError on an I/O failure.
void writeJsonFile(const std::string& path, const Options& options, const RunSummary& summary);

}  // namespace mixccl::perf

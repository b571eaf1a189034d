#include "common/report.h"

#include <cstdio>

namespace mixccl::perf {
namespace {

std::string printfString(const char* fmt, auto... args) {
  int n = std::snprintf(nullptr, 0, fmt, args...);
  std::string s(static_cast<size_t>(n), '\0');
  std::snprintf(s.data(), s.size() + 1, fmt, args...);
  return s;
}

std::string variantText(const VariantResult& v) {
  std::string wrong = v.wrong < 0 ? "N/A" : std::to_string(v.wrong);
  return "  " + formatNumber(v.timeUs, 7) + "  " + formatNumber(v.algBw, 6) + "  " + formatNumber(v.busBw, 6) +
         printfString("  %6s", wrong.c_str());
}

}  // namespace

std::string formatNumber(double value, int width) {
  std::string s;
  for (int precision = 2; precision >= 0; --precision) {
    s = printfString("%*.*f", width, precision, value);
    if (static_cast<int>(s.size()) <= width) break;
  }
  return s;
}

std::string headerText(const std::string& program, const Options& o, const std::vector<RankInfo>& ranks) {
  bool factor = o.stepFactor > 1;
  std::string s = "# Collective test starting: " + program + "\n";
  s += printfString(
      "# nThread %d nGpus 1 minBytes %zu maxBytes %zu step: "
      "%zu(%s) warmup iters: %d iters: %d agg iters: 1 "
      "validation: %d graph: 0\n",
      o.threadsPerProcess, o.minBytes, o.maxBytes, factor ? o.stepFactor : o.stepBytes, factor ? "factor" : "bytes", o.warmupIters, o.iters,
      o.checkIters);
  const std::string memory = runMemory(ranks);
  s += "# memory: " + memory + (memory == "host" ? "" : " (device buffers, one stream per rank)") + "\n";
  s += "#\n";
  if (memory != "host") s += "# Using devices\n";
  for (const RankInfo& r : ranks) {
    if (r.device < 0) {
      s += printfString("#  Rank %2d Group  0 Pid %6d on %10s device %3d [host] CPU\n", r.rank, r.pid, r.host.c_str(),
                        -1);
    } else {
      s += printfString("#  Rank %2d Group  0 Pid %6d on %10s device %3d [%s] %s\n", r.rank, r.pid, r.host.c_str(),
                        r.device, r.memory.c_str(), r.gpuName.c_str());
    }
  }
  s += "#\n";
  s += "#                                                              "
       "out-of-place                       in-place\n";
  s += "#       size         count      type   redop    root     time   algbw  "
       " busbw  #wrong     time   algbw   busbw"
       "  #wrong\n";
  s += "#        (B)    (elements)                               (us)  (GB/s)  "
       "(GB/s)             (us)  (GB/s)  (GB/s)"
       "\n";
  return s;
}

std::string rowText(const ResultRow& r) {
  std::string root = std::to_string(r.root);
  return printfString("%12zu  %12zu  %8s  %6s  %6s", r.bytes, r.count, r.type.c_str(), r.redop.c_str(), root.c_str()) +
         variantText(r.outOfPlace) + variantText(r.inPlace) + "\n";
}

std::string footerText(uint64_t totalWrong, double avgBusBw) {
  return printfString("# Out of bounds values : %llu %s\n", static_cast<unsigned long long>(totalWrong),
                      totalWrong == 0 ? "OK" : "FAILED") +
         printfString("# Avg bus bandwidth    : %g\n", avgBusBw) + "#\n";
}

}  // namespace mixccl::perf

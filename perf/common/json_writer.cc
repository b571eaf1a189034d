#include "common/json_writer.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/perf_error.h"
#include "core/datatype.h"

namespace mixccl::perf {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string variantJson(const VariantResult& v) {
  return "{\"time_us\": " + number(v.timeUs) + ", \"algbw_gbps\": " + number(v.algBw) +
         ", \"busbw_gbps\": " + number(v.busBw) + ", \"wrong\": " + (v.wrong < 0 ? "null" : std::to_string(v.wrong)) +
         "}";
}

std::string rowJson(const ResultRow& r) {
  return "{\"size\": " + std::to_string(r.bytes) + ", \"count\": " + std::to_string(r.count) +
         ", \"type\": " + quoted(r.type) + ", \"redop\": " + quoted(r.redop) + ", \"root\": " + std::to_string(r.root) +
         ", \"out_of_place\": " + variantJson(r.outOfPlace) + ", \"in_place\": " + variantJson(r.inPlace) + "}";
}

}  // namespace

std::string jsonText(const Options& o, const RunSummary& s) {
  std::string types, ops;
  for (mixcclDataType_t dt : o.types) types += (types.empty() ? "" : ", ") + quoted(dataTypeName(dt));
  for (mixcclRedOp_t op : o.ops) ops += (ops.empty() ? "" : ", ") + quoted(redOpName(op));
  std::string out = "{\n";
  out += "  \"program\": " + quoted(s.program) + ",\n";
  out += "  \"nranks\": " + std::to_string(s.nranks) + ",\n";
  out += "  \"memory\": " + quoted(s.memory) + ",\n";
  out += "  \"options\": {\"minbytes\": " + std::to_string(o.minBytes) +
         ", \"maxbytes\": " + std::to_string(o.maxBytes) + ", \"stepfactor\": " + std::to_string(o.stepFactor) +
         ", \"stepbytes\": " + std::to_string(o.stepBytes) + ", \"iters\": " + std::to_string(o.iters) +
         ", \"warmup_iters\": " + std::to_string(o.warmupIters) + ", \"check\": " + std::to_string(o.checkIters) +
         ", \"blocking\": " + std::to_string(o.blocking ? 1 : 0) +
         ", \"average\": " + std::to_string(static_cast<int>(o.average)) + ", \"datatypes\": [" + types +
         "], \"ops\": [" + ops + "], \"root\": " + (o.allRoots ? quoted("all") : std::to_string(o.root)) + "},\n";
  out += "  \"rows\": [";
  for (size_t i = 0; i < s.rows.size(); ++i) out += (i == 0 ? "\n    " : ",\n    ") + rowJson(s.rows[i]);
  out += s.rows.empty() ? "],\n" : "\n  ],\n";
  out += "  \"out_of_bounds\": " + std::to_string(s.totalWrong) + ",\n";
  out += "  \"avg_busbw_gbps\": " + number(s.avgBusBw) + "\n}\n";
  return out;
}

void writeJsonFile(const std::string& path, const Options& options, const RunSummary& summary) {
  std::string tmp = path + ".tmp";
  std::string text = jsonText(options, summary);
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) throw PerfError("--json: cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ok;
  int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw PerfError("--json: cannot write " + tmp + ": " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    throw PerfError("--json: cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
}

}  // namespace mixccl::perf

#include "tuning/selection_table.h"

#include <cstdio>

#include "core/datatype.h"

namespace mixccl {

std::string formatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + kUnits[u];
}

std::vector<SelectionRow> selectionTable(const Selector& selector, CollType type, mixcclDataType_t dtype,
                                         const PlanContext& ctx, uint64_t minBytes, uint64_t maxBytes, int factor) {
  std::vector<SelectionRow> rows;
  const uint64_t esz = dataTypeSize(dtype);
  for (uint64_t bytes = minBytes; bytes <= maxBytes && bytes >= esz && factor >= 2; bytes *= factor) {
    SelectionRow row;
    row.bytes = bytes;
    CollArgs args{type, bytes / esz, dtype, mixcclSum, 0};
    row.candidates = Selector::candidates(args, ctx);
    if (selector.select(args, ctx, &row.chosen) != mixcclSuccess) row.chosen = nullptr;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string formatSelectionTable(CollType type, const std::vector<SelectionRow>& rows) {
  std::string out = std::string(collName(type)) + " (modelled time per algorithm; * = chosen, - = declines)\n";
  char buf[64];
  for (const SelectionRow& row : rows) {
    snprintf(buf, sizeof(buf), "  %10s ", formatBytes(row.bytes).c_str());
    out += buf;
    for (const Candidate& c : row.candidates) {
      if (!c.supported) {
        snprintf(buf, sizeof(buf), " %13s %9s", c.algo->name(), "-");
      } else {
        snprintf(buf, sizeof(buf), " %12s%s %9.4g", c.algo->name(), c.algo == row.chosen ? "*" : " ",
                 c.seconds * 1e6);
      }
      out += buf;
    }
    out += "  us\n";
  }
  out += "  ranges:";
  for (size_t i = 0; i < rows.size();) {
    size_t j = i;
    while (j + 1 < rows.size() && rows[j + 1].chosen == rows[i].chosen) ++j;
    out += std::string(i ? ";" : "") + " " + formatBytes(rows[i].bytes) + " .. " + formatBytes(rows[j].bytes) +
           " -> " + (rows[i].chosen ? rows[i].chosen->name() : "none");
    i = j + 1;
  }
  return out + "\n";
}

}  // namespace mixccl

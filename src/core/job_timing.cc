#include "core/job_timing.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace mixccl {
namespace {

// "512 B", "2 KiB", "64 MiB": `bytes` (a power of two) in the largest unit that keeps it whole.
std::string powerOfTwo(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (unit < 6 && (bytes >> (10 * (unit + 1))) > 0) ++unit;
  return std::to_string(bytes >> (10 * unit)) + " " + kUnits[unit];
}

// Class k's sizes: "0 B", "[8 B, 16 B)", "[512 B, 1 KiB)", "[8 EiB, 16 EiB)".
std::string classRange(int k) {
  if (k == 0) return "0 B";
  const uint64_t low = uint64_t{1} << (k - 1);
  std::string text = "[";
  text += powerOfTwo(low);
  text += ", ";
  text += k == 64 ? std::string("16 EiB") : powerOfTwo(low * 2);
  text += ")";
  return text;
}

}  // namespace

void JobTiming::add(uint64_t bytes, double waitUs, double runUs) {
  Class& c = classes_[std::bit_width(bytes)];
  ++c.jobs;
  c.waitUs += waitUs;
  c.runUs += runUs;
  c.maxWaitUs = std::max(c.maxWaitUs, waitUs);
  c.maxRunUs = std::max(c.maxRunUs, runUs);
}

std::vector<std::string> JobTiming::lines() const {
  std::vector<std::string> out;
  for (int k = 0; k < static_cast<int>(classes_.size()); ++k) {
    const Class& c = classes_[k];
    if (c.jobs == 0) continue;
    char text[256];
    std::snprintf(text, sizeof(text),
                  "%s: %llu job%s; inputs landed after %.1f us on average (at most %.1f), ran %.1f us (at most %.1f)",
                  classRange(k).c_str(), static_cast<unsigned long long>(c.jobs), c.jobs == 1 ? "" : "s",
                  c.waitUs / double(c.jobs), c.maxWaitUs, c.runUs / double(c.jobs), c.maxRunUs);
    out.push_back(text);
  }
  return out;
}

}  // namespace mixccl

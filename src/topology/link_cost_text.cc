#include "topology/link_cost_text.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace mixccl {
namespace {

struct Unit {
  const char* suffix;
  double scale;
};

// Splits "12.5GB/s" into 12.5 and the scale of its unit from `units`; false if the number or unit is unknown.
bool parseWithUnit(const std::string& text, const Unit* units, size_t numUnits, double* out) {
  const char* begin = text.c_str();
  char* end = nullptr;
  double value = strtod(begin, &end);
  if (end == begin || !(value > 0)) return false;
  std::string unit(end);
  while (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  for (size_t i = 0; i < numUnits; ++i) {
    if (strcasecmp(unit.c_str(), units[i].suffix) == 0) {
      *out = value * units[i].scale;
      return true;
    }
  }
  return false;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

bool parseLatency(const std::string& text, double* seconds, std::string* error) {
  static const Unit kUnits[] = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}};
  if (parseWithUnit(trim(text), kUnits, 4, seconds)) return true;
  *error = "latency '" + text + "' is not a positive number with a unit ns, us, ms or s";
  return false;
}

bool parseBandwidth(const std::string& text, double* bytesPerSec, std::string* error) {
  static const Unit kUnits[] = {{"B/s", 1},         {"KB/s", 1e3},       {"MB/s", 1e6},       {"GB/s", 1e9},
                                {"Kbit/s", 1e3 / 8}, {"Mbit/s", 1e6 / 8}, {"Gbit/s", 1e9 / 8}};
  if (parseWithUnit(trim(text), kUnits, 7, bytesPerSec)) return true;
  *error = "bandwidth '" + text + "' is not a positive number with a unit B/s, KB/s, MB/s, GB/s, Mbit/s or Gbit/s";
  return false;
}

bool parseLinkClass(const std::string& text, LinkClass* out, std::string* error) {
  for (int c = 0; c < kNumLinkClasses; ++c) {
    if (trim(text) == linkClassName(static_cast<LinkClass>(c))) {
      *out = static_cast<LinkClass>(c);
      return true;
    }
  }
  *error = "unknown link class '" + text + "' (use same-device, same-host, same-site or cross-site)";
  return false;
}

bool parseLinkCosts(const std::string& list, LinkCost (&costs)[kNumLinkClasses], std::string* error) {
  std::string item;
  std::stringstream items(list);
  while (std::getline(items, item, list.find(';') != std::string::npos ? ';' : ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const size_t slash = item.find('/', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || slash == std::string::npos) {
      *error = "link cost '" + item + "' is not <class>=<latency>/<bandwidth>, e.g. cross-site=5ms/1.25GB/s";
      return false;
    }
    LinkClass c;
    LinkCost cost;
    if (!parseLinkClass(item.substr(0, eq), &c, error) ||
        !parseLatency(item.substr(eq + 1, slash - eq - 1), &cost.alphaSec, error) ||
        !parseBandwidth(item.substr(slash + 1), &cost.bytesPerSec, error)) {
      return false;
    }
    costs[static_cast<int>(c)] = cost;
  }
  return true;
}

std::string formatLatency(double seconds) {
  char buf[32];
  if (seconds < 1e-6) snprintf(buf, sizeof(buf), "%.3g ns", seconds * 1e9);
  else if (seconds < 1e-3) snprintf(buf, sizeof(buf), "%.3g us", seconds * 1e6);
  else if (seconds < 1) snprintf(buf, sizeof(buf), "%.3g ms", seconds * 1e3);
  else snprintf(buf, sizeof(buf), "%.3g s", seconds);
  return buf;
}

std::string formatBandwidth(double bytesPerSec) {
  char buf[32];
  if (bytesPerSec >= 1e9) snprintf(buf, sizeof(buf), "%.3g GB/s", bytesPerSec / 1e9);
  else if (bytesPerSec >= 1e6) snprintf(buf, sizeof(buf), "%.3g MB/s", bytesPerSec / 1e6);
  else snprintf(buf, sizeof(buf), "%.3g KB/s", bytesPerSec / 1e3);
  return buf;
}

}  // namespace mixccl

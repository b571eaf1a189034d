#pragma once
// Link costs written as text, for MIXCCL_LINK_COSTS and cluster description files.
//
//   latency:    a number with a unit: ns, us, ms or s             ("2us", "5ms")
//   bandwidth:  a number with a unit: B/s, KB/s, MB/s, GB/s (powers of 1000) or Kbit/s, Mbit/s, Gbit/s
//   one link:   <class>=<latency>/<bandwidth>                     ("cross-site=5ms/1.25GB/s")
//   a list:     items separated by ',' or ';'                     (MIXCCL_LINK_COSTS)
// where <class> is same-device, same-host, same-site or cross-site.
#include <string>

#include "topology/cluster_view.h"

namespace mixccl {

// Each returns false and sets *error to a sentence naming the bad text when it does not parse.
bool parseLatency(const std::string& text, double* seconds, std::string* error);
bool parseBandwidth(const std::string& text, double* bytesPerSec, std::string* error);
bool parseLinkClass(const std::string& text, LinkClass* out, std::string* error);
// Applies every "<class>=<latency>/<bandwidth>" item of `list` to costs (classes not named keep their values).
bool parseLinkCosts(const std::string& list, LinkCost (&costs)[kNumLinkClasses], std::string* error);

// "5 ms", "1.25 GB/s": the forms the parsers read, for printing.
std::string formatLatency(double seconds);
std::string formatBandwidth(double bytesPerSec);

}  // namespace mixccl

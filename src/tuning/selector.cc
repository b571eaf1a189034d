#include "tuning/selector.h"

#include <cstring>
#include <sstream>

#include "algorithms/registry.h"
#include "core/log.h"

namespace mixccl {
namespace {

int collFromKey(const std::string& key) {
  static const char* kKeys[kNumCollTypes] = {"allreduce", "allgather", "reducescatter", "broadcast", "reduce"};
  for (int c = 0; c < kNumCollTypes; ++c) {
    if (key == kKeys[c] || key == collName(static_cast<CollType>(c))) return c;
  }
  return -1;
}

std::string knownAlgorithms() {
  std::string names;
  for (const Algorithm* a : allAlgorithms()) names += (names.empty() ? "" : ", ") + std::string(a->name());
  return names;
}

bool sameShape(const CollArgs& a, const CollArgs& b) {
  return a.type == b.type && a.count == b.count && a.dtype == b.dtype;
}

}  // namespace

Result Selector::create(const std::string& override, Selector* out) {
  Selector s;
  std::stringstream items(override);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string algoName = eq == std::string::npos ? item : item.substr(eq + 1);
    const Algorithm* algo = findAlgorithm(algoName.c_str());
    if (algo == nullptr) {
      return failf(mixcclInvalidUsage, "MIXCCL_ALGO: unknown algorithm '%s' (known: %s)", algoName.c_str(),
                   knownAlgorithms().c_str());
    }
    if (eq == std::string::npos) {
      for (auto& f : s.forced_) f = algo;
      continue;
    }
    int coll = collFromKey(item.substr(0, eq));
    if (coll < 0) {
      return failf(mixcclInvalidUsage, "MIXCCL_ALGO: unknown collective '%s' (use allreduce, allgather, "
                   "reducescatter, broadcast, reduce)", item.substr(0, eq).c_str());
    }
    s.forced_[coll] = algo;
  }
  *out = s;
  return mixcclSuccess;
}

std::vector<Candidate> Selector::candidates(const CollArgs& args, const PlanContext& ctx) {
  std::vector<Candidate> all;
  for (const Algorithm* a : allAlgorithms()) {
    Candidate c;
    c.algo = a;
    c.supported = a->supports(args, ctx);
    if (c.supported) c.seconds = a->estimate(args, ctx);
    all.push_back(c);
  }
  return all;
}

Result Selector::select(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const {
  if (lastAlgo_ != nullptr && sameShape(args, lastArgs_)) {
    *out = lastAlgo_;
    return mixcclSuccess;
  }
  MIXCCL_TRY(choose(args, ctx, out));
  lastArgs_ = args;
  lastAlgo_ = *out;
  return mixcclSuccess;
}

Result Selector::choose(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const {
  const Algorithm* forcedAlgo = forced_[static_cast<int>(args.type)];
  if (forcedAlgo != nullptr) {
    if (forcedAlgo->supports(args, ctx)) {
      *out = forcedAlgo;
      return mixcclSuccess;
    }
    MIXCCL_LOG(kInfo, "MIXCCL_ALGO asks for %s, which declines %s on %d ranks; choosing by cost instead",
               forcedAlgo->name(), collName(args.type), ctx.nranks);
  }
  const Algorithm* best = nullptr;
  double bestSeconds = 0;
  for (const Candidate& c : candidates(args, ctx)) {
    if (!c.supported) continue;
    if (best == nullptr || c.seconds < bestSeconds) {
      best = c.algo;
      bestSeconds = c.seconds;
    }
  }
  if (best == nullptr) {
    return failf(mixcclInternalError, "no algorithm supports %s on %d ranks", collName(args.type), ctx.nranks);
  }
  MIXCCL_LOG(kTrace, "%s of %llu elements: %s (modelled %.3g us)", collName(args.type),
             static_cast<unsigned long long>(args.count), best->name(), bestSeconds * 1e6);
  *out = best;
  return mixcclSuccess;
}

}  // namespace mixccl

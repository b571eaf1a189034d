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
      std::string known;
      for (const Algorithm* a : allAlgorithms()) known += std::string(known.empty() ? "" : ", ") + a->name();
      return failf(mixcclInvalidUsage, "MIXCCL_ALGO: unknown algorithm '%s' (known: %s)", algoName.c_str(),
                   known.c_str());
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

Result Selector::select(const CollArgs& args, const PlanContext& ctx, const Algorithm** out) const {
  const Algorithm* forced = forced_[static_cast<int>(args.type)];
  if (forced != nullptr) {
    if (forced->supports(args, ctx)) {
      *out = forced;
      return mixcclSuccess;
    }
    MIXCCL_LOG(kInfo, "MIXCCL_ALGO asks for %s, which declines %s on %d ranks; falling back", forced->name(),
               collName(args.type), ctx.nranks);
  }
  for (const Algorithm* a : allAlgorithms()) {
    if (a->supports(args, ctx)) {
      *out = a;
      return mixcclSuccess;
    }
  }
  return failf(mixcclInternalError, "no algorithm supports %s on %d ranks", collName(args.type), ctx.nranks);
}

}  // namespace mixccl

#include "engine/plan_cache.h"

namespace mixccl {

std::shared_ptr<const Plan> PlanCache::get(const Algorithm& algo, const CollArgs& args, const PlanContext& ctx) {
  // rank and nranks are fixed per communicator (one cache per communicator); the op matters only for reductions
  // but is part of the key anyway (cheap, and avoids reasoning about which algorithms look at it).
  Key key{&algo, static_cast<int>(args.type), args.count, static_cast<int>(args.dtype), static_cast<int>(args.op),
          args.root, ctx.chunkBytes};
  if (lastPlan_ && key == lastKey_) return lastPlan_;
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= capacity_) plans_.clear();
    it = plans_.emplace(key, std::make_shared<const Plan>(algo.plan(args, ctx))).first;
  }
  lastKey_ = key;
  lastPlan_ = it->second;
  return lastPlan_;
}

}  // namespace mixccl

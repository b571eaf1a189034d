#pragma once
// Plans are pure functions of (algorithm, collective arguments, plan context): build once, reuse for every call
// of the same shape. Bounded: when full, the cache starts afresh (plans in use stay alive through shared_ptr).
#include <map>
#include <memory>
#include <tuple>

#include "algorithms/algorithm.h"

namespace mixccl {

class PlanCache {
 public:
  explicit PlanCache(size_t capacity = 256) : capacity_(capacity) {}
  std::shared_ptr<const Plan> get(const Algorithm& algo, const CollArgs& args, const PlanContext& ctx);
  size_t size() const { return plans_.size(); }

 private:
  using Key = std::tuple<const Algorithm*, int, uint64_t, int, int, int, uint64_t>;
  size_t capacity_;
  std::map<Key, std::shared_ptr<const Plan>> plans_;
  Key lastKey_{};  // the previous call's key: loops of the same call skip the map
  std::shared_ptr<const Plan> lastPlan_;
};

}  // namespace mixccl

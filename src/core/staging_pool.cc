#include "core/staging_pool.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/log.h"
#include "device/deferred_free.h"

namespace mixccl {
namespace {

constexpr size_t kMinBuffer = 4096;
constexpr size_t kMaxFitFactor = 4;
constexpr auto kMaxWaitAtLimit = std::chrono::seconds(5);

size_t capacityFor(size_t bytes) {
  size_t cap = kMinBuffer;
  while (cap < bytes) cap *= 2;
  return cap;
}

}  // namespace

StagingPool::~StagingPool() {
  sweep();
  if (!pending_.empty()) {
    MIXCCL_LOG(kWarn, "staging pool: %zu staged operation(s) still pending on a stream at teardown; their pinned "
               "buffers are left allocated", pending_.size());
    for (const Pending& p : pending_) {
      for (char* b : p.buffers) capacity_.erase(b);
      for (void* e : p.events) std::erase(allEvents_, e);
    }
  }
  for (auto& [ptr, cap] : capacity_) freeGpuMemory(gpu_, GpuFreeKind::kPinned, ptr);
  for (void* e : allEvents_) gpu_->eventDestroy(e);
}

bool StagingPool::completed(const Pending& p) {
  for (void* e : p.after) {
    bool done = false;
    if (gpu_->eventQuery(e, &done) == mixcclSuccess && !done) return false;  // a failed query: logged; go on
  }
  return true;
}

void StagingPool::sweep() {
  size_t keep = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (!completed(pending_[i])) {
      if (keep != i) pending_[keep] = std::move(pending_[i]);
      ++keep;
      continue;
    }
    for (char* b : pending_[i].buffers) {
      free_[capacity_[b]].push_back(b);
      cachedBytes_ += capacity_[b];
    }
    freeEvents_.insert(freeEvents_.end(), pending_[i].events.begin(), pending_[i].events.end());
  }
  pending_.resize(keep);
}

bool StagingPool::takeCached(size_t cap, char** out) {
  for (auto it = free_.lower_bound(cap); it != free_.end() && it->first <= cap * kMaxFitFactor; ++it) {
    if (it->second.empty()) continue;
    *out = it->second.back();
    it->second.pop_back();
    cachedBytes_ -= it->first;
    return true;
  }
  return false;
}

Result StagingPool::acquire(size_t bytes, char** out) {
  const size_t cap = capacityFor(bytes);
  const auto giveUp = std::chrono::steady_clock::now() + kMaxWaitAtLimit;
  for (;;) {
    sweep();
    // The smallest cached buffer that holds the request, up to kMaxFitFactor times its size: calls of alternating
    // sizes then reuse one buffer rather than allocate another each time.
    if (takeCached(cap, out)) return mixcclSuccess;
    if (heldBytes_ - cachedBytes_ + cap <= maxBytes_) break;
    // Nothing to wait for when no release could make room: none pending, or a request larger than the limit.
    if (pending_.empty() || cap > maxBytes_) break;
    // The streams holding the rest may wait for something the caller has yet to do: do not wait for ever.
    if (std::chrono::steady_clock::now() > giveUp) break;
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // at the limit: earlier calls must finish first
  }
  if (heldBytes_ - cachedBytes_ + cap > maxBytes_ && !saidPastLimit_) {
    saidPastLimit_ = true;
    MIXCCL_LOG(kInfo, "staging pool: past its limit of %zu bytes (its calls hold %zu, in use or pending); allocating "
               "%zu more", maxBytes_, heldBytes_ - cachedBytes_, cap);
  }
  void* p = nullptr;
  MIXCCL_TRY(gpu_->allocPinned(cap, &p));
  capacity_[static_cast<char*>(p)] = cap;
  heldBytes_ += cap;
  *out = static_cast<char*>(p);
  return mixcclSuccess;
}

Result StagingPool::acquireEvent(void** out) {
  if (!freeEvents_.empty()) {
    *out = freeEvents_.back();
    freeEvents_.pop_back();
    return mixcclSuccess;
  }
  void* e = nullptr;
  MIXCCL_TRY(gpu_->eventCreate(&e));
  allEvents_.push_back(e);
  *out = e;
  return mixcclSuccess;
}

void StagingPool::releaseAfter(std::vector<char*> buffers, std::vector<void*> events, std::vector<void*> after) {
  pending_.push_back(Pending{std::move(buffers), std::move(events), std::move(after)});
}

bool StagingPool::waitIdle(double timeoutSec) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSec);
  for (;;) {
    sweep();
    if (pending_.empty()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace mixccl

#include "engine/executor.h"

#include <algorithm>
#include <sstream>

#include "core/datatype.h"

namespace mixccl {
namespace {

// The DeviceBackend's arithmetic with the StepDevice's signatures (each call complete when it returns; no fences
// needed), so that one decision tree in Executor::compute serves the host and a GPU.
class HostSteps final : public StepDevice {
 public:
  explicit HostSteps(DeviceBackend& backend) : backend_(backend) {}
  Result reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override {
    backend_.reduce(dst, a, b, count, spec);
    return mixcclSuccess;
  }
  Result postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override {
    backend_.postOp(dst, src, count, spec);
    return mixcclSuccess;
  }
  Result copy(void* dst, const void* src, size_t bytes) override {
    backend_.copy(dst, src, bytes);
    return mixcclSuccess;
  }
  Result fence(uint64_t* fence) override {
    *fence = 0;
    return mixcclSuccess;
  }
  Result reached(uint64_t, bool* done) override {
    *done = true;
    return mixcclSuccess;
  }

 private:
  DeviceBackend& backend_;
};

}  // namespace

Executor::Executor(const Plan& plan, const CollArgs& args, int rank, int nranks, ExecBuffers buffers,
                   const std::vector<Transport*>& routes, DeviceBackend& backend, StepDevice* device)
    : rank_(rank), nranks_(nranks), routes_(routes), backend_(backend), device_(device) {
  reset(plan, args, buffers);
}

void Executor::reset(const Plan& plan, const CollArgs& args, ExecBuffers buffers) {
  plan_ = &plan;
  args_ = args;
  elemBytes_ = dataTypeSize(args.dtype);
  buffers_ = buffers;
  next_.assign(plan.laneBegin.begin(), plan.laneBegin.end() - 1);
  lanesLeft_ = plan.numLanes();
  running_.assign(device_ != nullptr ? plan.numLanes() : 0, Running{});
  busyLanes_ = 0;
  waitNext_.clear();
  for (size_t lane = 0; !plan.waits.empty() && lane < plan.numLanes(); ++lane) {
    auto first = std::lower_bound(plan.waits.begin(), plan.waits.end(), plan.laneBegin[lane],
                                  [](const LaneWait& w, uint32_t step) { return w.step < step; });
    waitNext_.push_back(static_cast<size_t>(first - plan.waits.begin()));
  }
}

bool Executor::waitsForLane(size_t lane) {
  if (waitNext_.empty()) return false;
  const std::vector<LaneWait>& waits = plan_->waits;
  size_t& w = waitNext_[lane];
  while (w < waits.size() && waits[w].step == next_[lane] && next_[waits[w].lane] > waits[w].after) ++w;
  return w < waits.size() && waits[w].step == next_[lane];
}

bool Executor::laneWaiting(size_t lane) const {
  if (waitNext_.empty()) return false;
  for (size_t w = waitNext_[lane]; w < plan_->waits.size() && plan_->waits[w].step == next_[lane]; ++w) {
    if (next_[plan_->waits[w].lane] <= plan_->waits[w].after) return true;
  }
  return false;
}

const char* Executor::slicePtr(const Slice& s) const {
  const char* base = nullptr;
  switch (s.buf) {
    case BufKind::kSend: base = static_cast<const char*>(buffers_.send); break;
    case BufKind::kRecv: base = static_cast<const char*>(buffers_.recv); break;
    case BufKind::kScratch: base = static_cast<const char*>(buffers_.scratch); break;
    default: return nullptr;
  }
  return base + s.offset * elemBytes_;
}

Result Executor::tryStep(size_t lane, const Step& step, StepState* state) {
  *state = StepState::kBlocked;
  const size_t bytes = step.count * elemBytes_;
  RecvChannel* rc = nullptr;
  const void* in = nullptr;
  if (step.hasRecv()) {
    rc = routes_[step.recvPeer]->recvChannel(step.recvPeer, step.channel);
    if (rc == nullptr) return noChannel(lane, step.recvPeer, step.channel);
    size_t got = 0;
    in = rc->peek(&got);
    if (in == nullptr) return mixcclSuccess;
    if (got != bytes) {
      return failf(mixcclInternalError,
                   "%s: rank %d expected %zu bytes from rank %d in step %u of lane %zu but got %zu: the ranks' "
                   "plans disagree (same count, type and algorithm on every rank?)",
                   collName(args_.type), rank_, bytes, step.recvPeer, next_[lane] - plan_->laneBegin[lane], lane,
                   got);
    }
  } else if (step.src2.valid()) {
    in = slicePtr(step.src2);  // the second local input stands where a received one would
  }
  SendChannel* sc = nullptr;
  char* out = nullptr;
  if (step.hasSend()) {
    sc = routes_[step.sendPeer]->sendChannel(step.sendPeer, step.channel);
    if (sc == nullptr) return noChannel(lane, step.sendPeer, step.channel);
    out = static_cast<char*>(sc->acquire());
    if (out == nullptr) return mixcclSuccess;  // the peeked input stays where it is until the next try
  }

  char* dst = const_cast<char*>(slicePtr(step.dst));
  // The reduced value is written once (to the local destination if there is one, else into the send slot) and
  // copied from there to the other output: every rank that gets it gets the same bits.
  MIXCCL_TRY(compute(step, in, slicePtr(step.src), dst != nullptr ? dst : out, dst != nullptr ? out : nullptr));
  if (device_ != nullptr) {
    // The slots stay held until the device has done the arithmetic.
    Running& r = running_[lane];
    MIXCCL_TRY(device_->fence(&r.fence));
    r.rc = rc;
    r.sc = sc;
    r.bytes = bytes;
    r.active = true;
    ++busyLanes_;
    *state = StepState::kRunning;
    return mixcclSuccess;
  }
  if (rc != nullptr) rc->release();
  if (sc != nullptr) sc->post(bytes);
  *state = StepState::kDone;
  return mixcclSuccess;
}

Result Executor::compute(const Step& step, const void* in, const char* local, char* first, char* second) {
  const size_t bytes = step.count * elemBytes_;
  ReduceSpec spec{args_.dtype, args_.op == mixcclAvg ? mixcclSum : args_.op, 0};
  if ((step.flags & Step::kFinal) && args_.op == mixcclAvg && nranks_ > 1) spec.divisor = nranks_;
  const char* only = in != nullptr ? static_cast<const char*>(in) : local;
  const bool both = in != nullptr && local != nullptr;
  HostSteps host(backend_);
  StepDevice& ops = device_ != nullptr ? *device_ : host;
  if (both) {
    MIXCCL_TRY(ops.reduce(first, local, in, step.count, spec));
  } else if (spec.divisor > 1) {
    MIXCCL_TRY(ops.postOp(first, only, step.count, spec));
  } else if (first != only) {
    MIXCCL_TRY(ops.copy(first, only, bytes));
  }
  if (second != nullptr) MIXCCL_TRY(ops.copy(second, first, bytes));
  return mixcclSuccess;
}

Result Executor::finishRunning(size_t lane, bool* ended) {
  Running& r = running_[lane];
  MIXCCL_TRY(device_->reached(r.fence, ended));
  if (!*ended) return mixcclSuccess;
  if (r.rc != nullptr) r.rc->release();
  if (r.sc != nullptr) r.sc->post(r.bytes);
  r = Running{};
  --busyLanes_;
  return mixcclSuccess;
}

Result Executor::noChannel(size_t lane, int peer, int channel) const {
  return failf(mixcclInternalError,
               "%s: rank %d step %u of lane %zu uses channel %d towards rank %d, which the %s transport does not offer "
               "(it has %d)",
               collName(args_.type), rank_, next_[lane] - plan_->laneBegin[lane], lane, channel, peer,
               routes_[peer]->name(), routes_[peer]->caps().maxLanes);
}

Result Executor::advance(bool* progressed) {
  *progressed = false;
  for (size_t lane = 0; lane < next_.size(); ++lane) {
    const uint32_t end = plan_->laneBegin[lane + 1];
    if (busyLanes_ > 0 && running_[lane].active) {
      bool ended = false;
      MIXCCL_TRY(finishRunning(lane, &ended));
      if (!ended) continue;
      *progressed = true;
      if (++next_[lane] == end) --lanesLeft_;
    }
    while (next_[lane] < end && !waitsForLane(lane)) {
      StepState state = StepState::kBlocked;
      MIXCCL_TRY(tryStep(lane, plan_->steps[next_[lane]], &state));
      if (state == StepState::kBlocked) break;
      *progressed = true;
      if (state == StepState::kRunning) break;  // the lane moves on once the device has done the step
      if (++next_[lane] == end) --lanesLeft_;
    }
  }
  return mixcclSuccess;
}

void Executor::blockedPeers(std::vector<int>* peers) const {
  for (size_t lane = 0; lane < next_.size(); ++lane) {
    if (next_[lane] >= plan_->laneBegin[lane + 1] || laneWaiting(lane) || laneRunning(lane)) continue;
    const Step& s = plan_->steps[next_[lane]];
    // The sender of an input that has arrived may have finished and left (its messages stay readable): no
    // failure. The receiver of this step's output is always checked: it cannot have finished without it.
    size_t bytes = 0;
    const bool inputHere =
        s.hasRecv() && routes_[s.recvPeer]->recvChannel(s.recvPeer, s.channel)->peek(&bytes) != nullptr;
    if (s.hasRecv() && !inputHere) peers->push_back(s.recvPeer);
    if (s.hasSend()) peers->push_back(s.sendPeer);
  }
}

std::string Executor::waitingFor() const {
  for (size_t lane = 0; lane < next_.size(); ++lane) {
    const uint32_t begin = plan_->laneBegin[lane], end = plan_->laneBegin[lane + 1];
    if (next_[lane] >= end || laneWaiting(lane)) continue;
    const Step& s = plan_->steps[next_[lane]];
    std::ostringstream out;
    out << "step " << (next_[lane] - begin) << " of " << (end - begin) << " (lane " << lane << ") waits for ";
    if (laneRunning(lane)) {
      out << "its work on the GPU";
      return out.str();
    }
    if (s.hasRecv()) {
      size_t bytes = 0;
      RecvChannel* rc = routes_[s.recvPeer]->recvChannel(s.recvPeer, s.channel);
      if (rc->peek(&bytes) == nullptr) {
        out << "data from rank " << s.recvPeer;
        return out.str();
      }
    }
    out << "a free slot towards rank " << s.sendPeer;
    return out.str();
  }
  return "nothing";
}

}  // namespace mixccl

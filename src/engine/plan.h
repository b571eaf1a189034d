#pragma once
// A plan: what one rank does for one collective, as data.
//
// Algorithms (algorithms/) emit plans; the executor (engine/executor.h) runs them over transports and a device
// backend; the plan simulator runs the plans of all ranks in one process. A plan never holds a pointer: buffers
// are named by kind and element offset, so a plan can be cached and reused for any buffers of the same shape.
//
// The step is ONE fused primitive, the same one NCCL's "prims" are made of:
//
//     value  = [data received from recvPeer, or the local src2 slice]  (op)  [local src slice]
//                                                                          -- one or both inputs
//     if (flags & kFinal) and op is avg:  value /= nranks                 -- the reduced value is final here
//     [local dst slice] = value ;  [send value to sendPeer]               -- one or both outputs
//
// so "recv-reduce-send", "recv-copy-send", "send", "recv", "copy" are all the same step with fields left out.
// src2 is a second LOCAL input in the place of the received one (a step has a receive or src2, never both, and
// src2 only together with src): it combines two local slices, e.g. an accumulator in scratch with the rank's own
// send data, so that an algorithm can reduce the contributions in the same order on every rank.
// Each step moves `count` elements; a matching send/recv pair always has the same count (both ranks compute
// it from the same arithmetic), and a step never has count 0.
//
// Ordering: a plan is a set of lanes; the steps of one lane run in order, different lanes run concurrently
// (the executor interleaves them). Messages between two ranks are matched in order per (sender, receiver,
// channel): the k-th step on rank A that sends to B on channel C meets the k-th step on B that receives from A
// on channel C. The sends of one rank towards one peer on one channel must therefore be in one lane, and so must
// its receives from one peer on one channel (sends and receives use separate FIFOs, so they may be in different
// lanes). Pipelining comes from chunking: consecutive steps move consecutive chunks, and a sender may
// run ahead of its receiver by as many chunks as the transport has slots.
//
// Waits: a step may also have to wait for a step of ANOTHER lane (it reads what that step writes, or writes what
// that step reads or writes). Plan::waits lists these edges; engine/lane_split.h derives them from a sequential
// plan, so that an algorithm can write its phases one after the other and still let them overlap.
#include <cstdint>
#include <string>
#include <vector>

namespace mixccl {

enum class BufKind : uint8_t { kNone = 0, kSend, kRecv, kScratch };

// A place in one of the rank's buffers, in elements.
struct Slice {
  BufKind buf = BufKind::kNone;
  uint64_t offset = 0;
  bool valid() const { return buf != BufKind::kNone; }
};

struct Step {
  enum Flags : uint8_t {
    kNone = 0,
    kFinal = 1,  // the value computed here is the fully reduced one: apply the post-op (avg: divide by nranks)
  };
  int32_t recvPeer = -1;  // rank whose data is an input (-1: none)
  int32_t sendPeer = -1;  // rank the value is sent to (-1: none)
  Slice src;              // local input (kNone: none)
  Slice src2;             // second local input, used in place of a received one (kNone: none)
  Slice dst;              // local output (kNone: none)
  uint64_t count = 0;     // elements moved by this step (> 0)
  uint8_t flags = kNone;
  uint8_t channel = 0;    // which of the transports' channel lanes carries the messages (< caps().maxLanes):
                          // collectives use 0, point-to-point 1, so the two never share a FIFO

  bool hasRecv() const { return recvPeer >= 0; }
  bool hasSend() const { return sendPeer >= 0; }
  // True when the step combines two inputs with the reduction operator.
  bool reduces() const { return (hasRecv() || src2.valid()) && src.valid(); }
};

// Step `step` (an index into Plan::steps) runs only after step `after` of lane `lane` has run.
struct LaneWait {
  uint32_t step = 0;
  uint32_t lane = 0;
  uint32_t after = 0;
};

struct Plan {
  std::vector<Step> steps;
  // Lane l holds steps[laneBegin[l] .. laneBegin[l+1]) (laneBegin.back() == steps.size()).
  std::vector<uint32_t> laneBegin{0};
  uint64_t scratchElements = 0;  // scratch the plan needs, in elements of the collective's data type
  // Cross-lane waits, sorted by step; `after` is in another lane than `step`. Empty for most plans.
  std::vector<LaneWait> waits;

  size_t numLanes() const { return laneBegin.size() - 1; }
  // The lane that holds steps[step].
  size_t laneOf(uint32_t step) const;
  // Closes the current lane; subsequent push() calls go to a new lane. Empty lanes are not recorded.
  void endLane();
  void push(const Step& step) { steps.push_back(step); }
  // Appends the common step "recv from recvPeer (op) src -> dst and/or send to sendPeer" (-1 / kNone: absent)
  // and returns it (to set src2). `final` sets kFinal.
  Step& emit(int recvPeer, int sendPeer, Slice src, Slice dst, uint64_t count, bool final, uint8_t channel = 0);

  // A human-readable listing, one line per step ("lane 0 step 3: recv 2 + send[0+4] -> send 1 (4 elems)").
  std::string describe() const;
};

// Checks structural rules: every step has an input and an output, count > 0, peers within [0, nranks) and not
// `rank`, src2 only with src and without a receive, slices inside the buffer sizes given, waits sorted and
// naming a step of the lane they name, in another lane. Returns "" if the plan is
// well formed, else the first problem.
std::string validatePlan(const Plan& plan, int rank, int nranks, uint64_t sendElems, uint64_t recvElems);

}  // namespace mixccl

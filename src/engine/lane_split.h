#pragma once
// Lanes from a sequential plan: lets an algorithm write its phases one after the other (the order that is easy to
// get right) and still run them overlapped, chunk by chunk, as their data become ready.
#include <cstdint>
#include <vector>

#include "engine/plan.h"

namespace mixccl {

// Returns `sequential` (its steps in one order that is correct when run one after the other; its own lanes are
// ignored) cut into lanes: steps[i] goes to lane laneOf[i] (lanes numbered by increasing tag, empty tags dropped),
// each lane keeping the steps' order. Plan::waits keeps every dependency of the sequential order that crosses
// lanes: a step waits for the last earlier step of each other lane that writes an element it reads or writes, or
// reads an element it writes. The kSend and kRecv buffers are taken to be one memory at equal offsets (the
// in-place all-reduce layout; merely conservative for out-of-place calls). The caller keeps the message rules of
// plan.h: all sends to one peer on one channel in one lane, and all receives from one peer on one channel.
// laneOf.size() must equal sequential.steps.size(). With one tag, or more than 16, the result is the sequential
// plan as one lane (correct, without overlap).
Plan splitLanes(Plan sequential, const std::vector<uint8_t>& laneOf);

}  // namespace mixccl

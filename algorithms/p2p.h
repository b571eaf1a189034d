#pragma once
// Point-to-point plans: one send or one receive of `count` elements, chunked, on channel 1 (collectives use
// channel 0, so a group may mix both without sharing a FIFO). Pure, like every plan builder.
#include <cstdint>

#include "engine/plan.h"

namespace mixccl {

constexpr uint8_t kPointToPointChannel = 1;

// send: chunks of the send buffer go to `peer`; receive: chunks from `peer` fill the receive buffer. A count of 0
// gives an empty plan (no message: the peer's matching call has count 0 too).
Plan pointToPointPlan(bool send, int peer, uint64_t count, uint64_t chunkElems);

}  // namespace mixccl

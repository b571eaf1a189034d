#pragma once
// The two ends of one shared-memory FIFO (sender A -> receiver B, one lane).
//
// FIFO protocol. The FIFO lives in B's segment: `slots` slots and a `head` counter (messages B has released,
// written only by B, on its own cache line). Message n (counting from 0) uses slot n % slots. A's counter, the
// tail, is not a shared word: A publishes message n by storing seq = n + 1 into that slot's header, so the word
// B polls sits in the same cache line as the byte count and the first 48 payload bytes. Counters are 64-bit and
// never wrap in practice; a slot's seq grows by `slots` per reuse, so B never mistakes an old message for the
// next one. In flight = A's tail - head, between 0 and slots.
//
//   A: acquire()  if tail - head == slots: fence, reload head (acquire); still full -> nullptr. Else slot
//                 tail % slots.
//      post(n)    write the byte count; slot.seq.store(tail + 1, release); ring B's doorbell.
//   B: peek()     slot head % slots has seq == head + 1 (acquire)? that is the message; else nullptr.
//      release()  head.store(head + 1, release); fence; if the FIFO was full before (the slot of message
//                 head - 1 + slots holds it), ring A's doorbell. A sender blocks only on a full FIFO, so a ring
//                 for any other release would only wake it early: with more ranks than cores such spurious
//                 wake-ups cost a context switch each. No wake-up is lost: A stores seq, fences, loads head;
//                 B stores head, fences, loads seq; so either A sees the new head (and does not sleep) or B sees
//                 the full FIFO (and rings).
//
// Memory ordering. A's payload and byte-count writes happen before its release store of seq; B's acquire load
// that sees seq == head + 1 therefore sees them (message visibility). B's reads of the payload happen before
// its release store of head; A's acquire load that sees the new head orders its next writes to that slot after
// B's reads (no overwrite of a message still being read). A caches head and reloads it only when its cached
// view says "full", so in the steady state the sender does not touch the receiver's line. The doorbell ring
// comes after the publishing store; see shm_doorbell.h for why a sleeping peer cannot miss it.
//
// Both ends are driven by one thread of their process (the Transport contract); they are not thread-safe.
#include <cstddef>
#include <cstdint>

#include "transports/shm/shm_layout.h"
#include "transports/transport.h"

namespace mixccl::detail {

class ShmSendChannel final : public SendChannel {
 public:
  // `fifo` and `slots` point into the receiver's segment; `receiverBell` is the receiver's doorbell.
  ShmSendChannel(ShmFifo* fifo, char* slots, const ShmGeometry& geometry, ShmDoorbell* receiverBell)
      : fifo_(fifo),
        slots_(slots),
        slotStride_(geometry.slotStride()),
        nSlots_(uint64_t(geometry.slots)),
        receiverBell_(receiverBell) {}

  void* acquire() override;
  void post(size_t bytes) override;

 private:
  ShmFifo* fifo_;
  char* slots_;
  size_t slotStride_;
  uint64_t nSlots_;
  ShmDoorbell* receiverBell_;
  uint64_t tail_ = 0;        // messages posted
  uint64_t cachedHead_ = 0;  // last head we read
};

class ShmRecvChannel final : public RecvChannel {
 public:
  // `fifo` and `slots` point into this rank's own segment; `senderBell` is the sender's doorbell.
  ShmRecvChannel(ShmFifo* fifo, char* slots, const ShmGeometry& geometry, ShmDoorbell* senderBell)
      : fifo_(fifo),
        slots_(slots),
        slotStride_(geometry.slotStride()),
        nSlots_(uint64_t(geometry.slots)),
        senderBell_(senderBell) {}

  const void* peek(size_t* bytes) override;
  void release() override;

 private:
  ShmFifo* fifo_;
  char* slots_;
  size_t slotStride_;
  uint64_t nSlots_;
  ShmDoorbell* senderBell_;
  uint64_t head_ = 0;  // messages released (mirrors fifo_->head, which only we write)
};

}  // namespace mixccl::detail

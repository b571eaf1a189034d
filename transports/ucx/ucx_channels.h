#pragma once
// Tagged-message channels over one UCP worker: the tag layout and the slot protocol.
//
// Tag layout (64 bits, matched with a full mask, so a receive accepts exactly one message):
//
//     63      56 55                    32 31                             0
//    +----------+------------------------+--------------------------------+
//    |   lane   |      sender rank       |   sequence number (wrapping)   |
//    +----------+------------------------+--------------------------------+
//
// Lanes 0..kLanes-1 carry data; lane kAbortLane (255) carries the abort notice (sequence 0, a 4-byte culprit).
// Ranks must be < 2^24.
//
// Slot protocol. Each channel owns `slots` staging buffers of `slotBytes` bytes in the transport's registered
// memory; message number `seq` of a channel always uses slot seq % slots, on both sides.
//  * Send: acquire() hands out slot head % slots once its previous send completed; post(bytes) issues
//    ucp_tag_send_nbx from it with tag (lane, own rank, head) and marks it in flight until the send callback.
//    Eager sends complete at once (UCX buffers them); rendezvous sends (large) complete when the receiver has
//    pulled the data, zero-copy from the registered slot.
//  * Eager over TCP: to a peer whose lanes are all tcp (UcxPeer::eagerSends), slots go with
//    UCP_OP_ATTR_FLAG_FAST_CMPL, which UCX sends eagerly up to RNDV_SEND_NBR_THRESH (set to the slot size by
//    UcxWorker). Rendezvous buys nothing there (UCX's tcp rendezvous still lands the data in its receive buffers
//    and copies it out, like eager), but it costs a round trip per message (RTS, RTR, then data) that needs the
//    sender to progress again: a sender busy reducing or asleep stalls it. Measured on the 2-core VM (4 MiB
//    all-reduce, 2 ranks, loopback): 6.3 instead of 7.5-9.4 ms of CPU per call, 13-19 instead of 68 context
//    switches, and about 1.5x the bus bandwidth. The receiver's posted window is still `slots` messages; a sender
//    that runs further ahead parks its messages in the receiver's unexpected queue (bounded by what the plan lets
//    it send, and by TCP's flow control while the receiver does not progress).
//  * Receive: the slots are kept pre-posted with ucp_tag_recv_nbx for sequence numbers tail..tail+slots-1.
//    peek() returns slot tail % slots once its receive completed (length from the completion info); release()
//    re-posts that slot for tail + slots. Since every receive names its sequence number, the order in which UCX
//    matches or completes messages does not matter: the channel delivers in the order the sender posted.
//  * Progress: when an answer would be "not ready", the channel progresses the worker once and looks again.
//  * Failures: a request that completes with an error marks the peer failed (UcxPeer::fail); the channel then
//    reports "not ready" for that message and checkPeer() explains.
#include <ucp/api/ucp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "transports/transport.h"
#include "transports/ucx/ucx_worker.h"

namespace mixccl::detail {

constexpr int kTagLaneShift = 56;
constexpr int kTagRankShift = 32;
constexpr int kMaxTagRank = (1 << 24) - 1;
constexpr int kAbortLane = 255;
constexpr ucp_tag_t kFullTagMask = ~ucp_tag_t(0);

inline ucp_tag_t makeTag(int lane, int sender, uint32_t seq) {
  return (ucp_tag_t(uint32_t(lane) & 0xffu) << kTagLaneShift) |
         (ucp_tag_t(uint32_t(sender) & uint32_t(kMaxTagRank)) << kTagRankShift) | ucp_tag_t(seq);
}

// What this rank knows about one peer. Owned by the transport; channels point to it.
struct UcxPeer {
  int rank = -1;
  ucp_ep_h ep = nullptr;
  ucs_status_t failure = UCS_OK;  // first error UCX reported for this peer (endpoint or request)
  UcxWorker* worker = nullptr;
  bool eagerSends = false;        // data sends with UCP_OP_ATTR_FLAG_FAST_CMPL (every lane is tcp; see above)

  void fail(ucs_status_t status) {
    if (failure == UCS_OK) failure = status;
    worker->bumpEvents();
  }
};

// One staging buffer and the request that currently uses it.
struct UcxSlot {
  char* data = nullptr;
  UcxPeer* peer = nullptr;
  void* request = nullptr;   // outstanding UCX request, or nullptr
  bool pending = false;      // a send or receive is in flight
  size_t length = 0;         // received bytes
  ucs_status_t status = UCS_OK;
};

// Issues a send of `bytes` bytes from `slot` to its peer with `tag`; the slot is pending until it completes.
// `memh` may be nullptr (memory not from the registered region). Eager with fast completion if the peer's
// eagerSends is set.
void ucxSend(UcxSlot* slot, size_t bytes, ucp_tag_t tag, ucp_mem_h memh);
// Posts a receive of up to `capacity` bytes into `slot` for exactly `tag`.
void ucxRecv(ucp_worker_h worker, UcxSlot* slot, size_t capacity, ucp_tag_t tag, ucp_mem_h memh);
// Cancels the request of a pending slot (its callback then runs during progress with UCS_ERR_CANCELED).
void ucxCancel(ucp_worker_h worker, UcxSlot* slot);

class UcxSendChannel final : public SendChannel {
 public:
  // `memory`: slots * slotBytes bytes inside the worker's registered memory.
  UcxSendChannel(UcxPeer* peer, int ownRank, int lane, char* memory, size_t slotBytes, int slots);
  void* acquire() override;
  void post(size_t bytes) override;
  std::vector<UcxSlot>& slots() { return slots_; }

 private:
  UcxSlot& slot(uint32_t seq) { return slots_[seq % slots_.size()]; }
  UcxPeer* peer_;
  int ownRank_;
  int lane_;
  uint32_t head_ = 0;  // sequence number of the next message
  std::vector<UcxSlot> slots_;
};

class UcxRecvChannel final : public RecvChannel {
 public:
  UcxRecvChannel(UcxPeer* peer, int lane, char* memory, size_t slotBytes, int slots);
  // Pre-posts the receives for sequence numbers 0..slots-1.
  void start();
  const void* peek(size_t* bytes) override;
  void release() override;
  std::vector<UcxSlot>& slots() { return slots_; }

 private:
  UcxSlot& slot(uint32_t seq) { return slots_[seq % slots_.size()]; }
  void postSeq(uint32_t seq);
  UcxPeer* peer_;
  int lane_;
  size_t slotBytes_;
  uint32_t tail_ = 0;  // sequence number of the oldest message not yet released
  std::vector<UcxSlot> slots_;
};

}  // namespace mixccl::detail

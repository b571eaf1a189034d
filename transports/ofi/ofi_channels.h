#pragma once
// The two ends of an ofi channel (one peer, one lane, one direction) over tagged messages.
//
// Tag layout. Every message carries a 64-bit tag, aligned to the top of the provider's tag width W
// (mem_tag_format; W = 64 for tcp;ofi_rxm and shm):
//
//     bit W-1 ........ W-8 | W-9 ......... W-32 | W-33 ............ 0
//     lane (8 bits)        | sender rank (24)   | sequence number (W-32 bits, 32 when W = 64)
//
// Lane 255 is reserved for the abort notice (sequence 0). Receives match the tag exactly (ignore = 0), so a
// message can only land in the slot posted for its (lane, sender, sequence): the provider may deliver messages
// of a channel in any order, the channel still hands them out in sequence order. Sequence numbers wrap modulo
// 2^(W-32); the window in flight is a few slots, so a wrapped number never meets its older namesake.
//
// Slot protocol, per channel with S staging slots (registered memory, slotBytes each):
//   sender:   message k is written into slot k % S by the executor (acquire), then sent with tag seq = k
//             (post). The slot is busy until the send completes, so at most S messages are in flight.
//   receiver: receives for sequence numbers tail .. tail+S-1 are always posted, message k into slot k % S.
//             peek() returns slot tail % S once its receive completed (its length from the CQ entry);
//             release() re-posts that slot for sequence tail + S and advances tail.
// A message the sender gets ahead of the receiver's posted window waits in the provider's unexpected queue
// (FI_RM_ENABLED) until its receive is posted. -FI_EAGAIN from a post queues it; the queue is retried on every
// progress call (acquire, peek, eventToken, waitForEvent).
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "transports/ofi/ofi_endpoint.h"
#include "transports/transport.h"

namespace mixccl::detail {

constexpr int kOfiAbortLane = 255;  // the reserved lane of the abort notice

// Builds tags per the layout above for a provider with `tagBits` usable tag bits (>= 48).
class OfiTagCodec {
 public:
  explicit OfiTagCodec(int tagBits = 64) : bits_(tagBits) {}
  uint64_t tag(int lane, int senderRank, uint64_t seq) const {
    const int seqBits = bits_ - 32;
    const uint64_t seqMask = seqBits >= 64 ? ~0ull : (1ull << seqBits) - 1;
    return (uint64_t(lane & 0xff) << (bits_ - 8)) | (uint64_t(senderRank & 0xffffff) << seqBits) | (seq & seqMask);
  }

 private:
  int bits_;
};

// One remote rank as the channels see it. `error` is set (once) when an operation to or from it failed.
struct OfiPeer {
  int rank = -1;
  fi_addr_t addr = FI_ADDR_UNSPEC;  // for sends
  fi_addr_t srcAddr = FI_ADDR_UNSPEC;  // for receives: addr with FI_DIRECTED_RECV, else FI_ADDR_UNSPEC
  std::string error;
  void setError(std::string text) {
    if (error.empty()) error = std::move(text);
  }
};

// What every channel shares: the endpoint, the codec, the staging geometry.
struct OfiChannelEnv {
  OfiEndpoint* ep = nullptr;
  OfiTagCodec codec;
  size_t slotBytes = 0;
  int slots = 0;
  int ownRank = -1;
  // Progresses the whole transport (CQ and every queued post); channels call it when their answer is "not yet".
  void (*progressAll)(void* transport) = nullptr;
  void* transport = nullptr;
  void progress() const { progressAll(transport); }
};

class OfiSendChannel final : public SendChannel, public OfiCompletionSink {
 public:
  // `staging`: slots * slotBytes bytes of registered memory.
  OfiSendChannel(const OfiChannelEnv* env, OfiPeer* peer, int lane, char* staging);
  void* acquire() override;
  void post(size_t bytes) override;
  void onCompletion(OfiOp* op, size_t len) override;
  void onError(OfiOp* op, int err, const std::string& text) override;
  // Posts queued sends until the queue is empty or the provider says -FI_EAGAIN.
  void flush();
  int inFlight() const;

 private:
  enum class SlotState : uint8_t { kFree, kQueued, kInFlight };
  const OfiChannelEnv* env_;
  OfiPeer* peer_;
  int lane_;
  char* staging_;
  uint64_t head_ = 0;  // sequence number of the next message
  std::vector<OfiOp> ops_;
  std::vector<SlotState> state_;
  std::vector<size_t> bytes_;
  std::vector<uint64_t> seq_;
  std::deque<int> queue_;  // slots posted by the executor, not yet accepted by the provider
};

class OfiRecvChannel final : public RecvChannel, public OfiCompletionSink {
 public:
  OfiRecvChannel(const OfiChannelEnv* env, OfiPeer* peer, int lane, char* staging);
  // Posts the first window of receives (sequence numbers 0 .. slots-1). Errors (logged): mixcclSystemError.
  Result start();
  const void* peek(size_t* bytes) override;
  void release() override;
  void onCompletion(OfiOp* op, size_t len) override;
  void onError(OfiOp* op, int err, const std::string& text) override;
  void flush();
  // Cancels every posted receive (teardown); completions arrive as FI_ECANCELED errors.
  void cancelAll();
  int posted() const;

 private:
  enum class SlotState : uint8_t { kQueued, kPosted, kDone, kIdle };
  const OfiChannelEnv* env_;
  OfiPeer* peer_;
  int lane_;
  char* staging_;
  uint64_t tail_ = 0;  // sequence number of the next message to hand out
  std::vector<OfiOp> ops_;
  std::vector<SlotState> state_;
  std::vector<size_t> len_;
  std::vector<uint64_t> seq_;
  std::deque<int> queue_;
};

}  // namespace mixccl::detail

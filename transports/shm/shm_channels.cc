#include "transports/shm/shm_channels.h"

#include <atomic>
#include <cassert>

namespace mixccl::detail {
namespace {

// A slot is its 16-byte header followed by the payload.
inline ShmSlotHeader* slotHeader(char* slots, size_t stride, uint64_t index) {
  return reinterpret_cast<ShmSlotHeader*>(slots + index * stride);
}
inline char* slotData(char* slots, size_t stride, uint64_t index) {
  return slots + index * stride + sizeof(ShmSlotHeader);
}

}  // namespace

void* ShmSendChannel::acquire() {
  if (tail_ - cachedHead_ >= nSlots_) {
    // Orders the publishing store of our last message before this load (see release()).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    cachedHead_ = fifo_->head.load(std::memory_order_acquire);
    if (tail_ - cachedHead_ >= nSlots_) return nullptr;
  }
  return slotData(slots_, slotStride_, tail_ % nSlots_);
}

void ShmSendChannel::post(size_t bytes) {
  assert(bytes <= slotStride_ - sizeof(ShmSlotHeader) && tail_ - cachedHead_ < nSlots_);  // acquire() succeeded
  ShmSlotHeader* h = slotHeader(slots_, slotStride_, tail_ % nSlots_);
  h->bytes = bytes;
  ++tail_;
  h->seq.store(tail_, std::memory_order_release);
  ringDoorbell(receiverBell_);
}

const void* ShmRecvChannel::peek(size_t* bytes) {
  uint64_t index = head_ % nSlots_;
  ShmSlotHeader* h = slotHeader(slots_, slotStride_, index);
  if (h->seq.load(std::memory_order_acquire) != head_ + 1) return nullptr;
  *bytes = size_t(h->bytes);
  return slotData(slots_, slotStride_, index);
}

void ShmRecvChannel::release() {
  ++head_;
  fifo_->head.store(head_, std::memory_order_release);
  // The sender can only be waiting for a slot if all of them were taken before this release, i.e. it had posted
  // message head_ - 1 + slots (0-based), whose seq lives in slot (head_ - 2 + slots) % slots. Otherwise ringing
  // would only wake a peer that waits for something else.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const ShmSlotHeader* last = slotHeader(slots_, slotStride_, (head_ + nSlots_ - 2) % nSlots_);
  if (last->seq.load(std::memory_order_relaxed) == head_ - 1 + nSlots_) ringDoorbell(senderBell_);
}

}  // namespace mixccl::detail

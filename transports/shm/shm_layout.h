#pragma once
// The layout of one rank's shared-memory segment: a header, then the FIFOs through which the other local
// ranks send to the owner, one per (sender, lane).
//
//   offset 0                  ShmHeader (one page): identity, doorbell, abort word
//   fifoOffset(s, lane)       ShmFifo from local rank s on `lane` (s = the sender's index in localRanks; the
//                             owner's own index is reserved and never touched)
//
//   ShmFifo  = head line | slot 0 | slot 1 | ... | slot (slots-1)                  (page-aligned stride)
//   slot     = ShmSlotHeader (16 bytes: byte count, sequence) | data (slotBytes)  (cache-line-aligned stride)
//
// The payload starts 16 bytes into the slot (16-byte aligned), so a small message shares its cache line with
// the word that publishes it: the receiver of a small message pulls exactly one line.
//
// The segment is created with ftruncate, so tmpfs keeps it sparse: a FIFO costs memory only once its slots are
// written, and untouched FIFOs (pairs that never talk) cost nothing. Every rank maps the segments of all its
// local peers; a sender writes into the RECEIVER's segment (slots, tail), the receiver writes its own head.
// See shm_channels.h for the FIFO protocol and its memory ordering.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "transports/shm/shm_doorbell.h"

namespace mixccl::detail {

constexpr size_t kCacheLineBytes = 64;
constexpr size_t kPageBytes = 4096;
constexpr size_t kSlotHeaderBytes = 16;
constexpr uint64_t kShmMagic = 0x6d697863636c5348ull;  // "mixcclSH"
constexpr uint32_t kShmLayoutVersion = 1;

constexpr size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// The FIFO's control line; its slots follow it. The sender's counter ("tail") is not a separate line: each slot
// header carries the sequence number that publishes it (see shm_channels.h).
struct ShmFifo {
  alignas(kCacheLineBytes) std::atomic<uint64_t> head;  // messages released by the receiver (only it writes)
};
static_assert(sizeof(ShmFifo) == kCacheLineBytes);

struct alignas(16) ShmSlotHeader {
  uint64_t bytes;             // payload size, written by the sender before it publishes the message
  std::atomic<uint64_t> seq;  // n + 1 once message n (counting from 0) is published in this slot (only sender writes)
};
static_assert(sizeof(ShmSlotHeader) == kSlotHeaderBytes);

// The shape every rank of a host must agree on (checked when a peer's segment is mapped).
struct ShmGeometry {
  int nLocal = 0;        // ranks on this host
  int lanes = 0;         // FIFOs per ordered pair
  int slots = 0;         // messages in flight per FIFO
  size_t slotBytes = 0;  // payload bytes per slot (a multiple of kCacheLineBytes)

  size_t slotStride() const { return roundUp(kSlotHeaderBytes + slotBytes, kCacheLineBytes); }
  size_t fifoStride() const { return roundUp(sizeof(ShmFifo) + size_t(slots) * slotStride(), kPageBytes); }
  size_t fifoOffset(int sender, int lane) const {
    return kPageBytes + (size_t(sender) * size_t(lanes) + size_t(lane)) * fifoStride();
  }
  size_t segmentBytes() const { return kPageBytes + size_t(nLocal) * size_t(lanes) * fifoStride(); }
};

struct alignas(kPageBytes) ShmHeader {
  // Written once by the owner before the segment name is published; read-only afterwards.
  uint64_t magic;
  uint32_t version;
  int32_t pid;
  int32_t rank;  // the owner's global rank
  int32_t nLocal;
  int32_t lanes;
  int32_t slots;
  uint64_t slotBytes;
  uint64_t localRanksHash;  // fingerprint of the host's rank list, so a disagreement is an error, not a hang
  // Rung by peers; the owner sleeps on it.
  alignas(kCacheLineBytes) ShmDoorbell doorbell;
  // 0: no abort; else culprit rank + 1, written (first writer wins) by whichever rank notified the abort.
  alignas(kCacheLineBytes) std::atomic<int32_t> abortCulprit;
};
static_assert(sizeof(ShmHeader) == kPageBytes);

inline ShmHeader* shmHeader(void* base) { return static_cast<ShmHeader*>(base); }
inline ShmFifo* shmFifo(void* base, const ShmGeometry& g, int sender, int lane) {
  return reinterpret_cast<ShmFifo*>(static_cast<char*>(base) + g.fifoOffset(sender, lane));
}

}  // namespace mixccl::detail

#pragma once
// How bytes cross between two ranks.
//
// A transport offers, for each (peer, lane), an in-order FIFO of fixed-size slots in each direction. The
// executor writes a step's output straight into a send slot and reads a step's input straight out of a
// receive slot (fused reduce/copy: no intermediate buffer), which is the one-copy design for shared memory and
// the staging design for networks. All channel calls are NON-BLOCKING and called from the one thread that
// drives the communicator; blocking happens only in waitForEvent().
//
// Matching: messages on the channel (A -> B, lane L) arrive at B in the order A posted them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixccl {

// Advertised capabilities. They must equal what is implemented (STYLE.md rule 8).
struct TransportCaps {
  double latencySec = 0;          // one small message, one way
  double bandwidthBytesPerSec = 0;  // one peer pair, large messages
  uint32_t memoryTypeMask = 1;    // bit i set: can read/write buffers of MemoryType i directly (bit 0: host)
  size_t slotBytes = 0;           // largest message; a plan's chunk must not exceed it
  int slotsPerChannel = 0;        // messages in flight per channel; >= 2, since a fused step holds its input
                                  // while it takes an output slot (with 1 a ring deadlocks)
  int maxLanes = 1;               // lanes (independent channel sets) per peer pair
};

class SendChannel {
 public:
  virtual ~SendChannel() = default;
  // Returns a writable slot for the next message (at least caps.slotBytes bytes), or nullptr while every slot
  // is in flight. Calling acquire() again before post() returns the same slot.
  virtual void* acquire() = 0;
  // Publishes the slot returned by acquire() holding `bytes` bytes (<= slotBytes) and wakes the receiver.
  virtual void post(size_t bytes) = 0;
};

class RecvChannel {
 public:
  virtual ~RecvChannel() = default;
  // Returns the next message, or nullptr if it has not arrived; *bytes receives its size. Calling peek()
  // again before release() returns the same message.
  virtual const void* peek(size_t* bytes) = 0;
  // Frees the message returned by peek() so the sender may reuse its slot, and wakes the sender.
  virtual void release() = 0;
};

// A range of host memory.
struct HostRange {
  void* base = nullptr;
  size_t bytes = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  virtual const TransportCaps& caps() const = 0;
  // True if this transport connects this rank to `peer`.
  virtual bool reaches(int peer) const = 0;
  // The host memory the channels' slots live in: every pointer acquire() and peek() return lies inside one of
  // these ranges, fixed from creation to destruction, so a GPU can be given direct access to the slots
  // (GpuBackend::hostRegister; core/device_steps.h). Empty when the slots are not plain host memory of this process.
  virtual std::vector<HostRange> slotMemory() const = 0;
  // Channels for `lane` < caps().maxLanes. Owned by the transport; valid until it is destroyed.
  virtual SendChannel* sendChannel(int peer, int lane) = 0;
  virtual RecvChannel* recvChannel(int peer, int lane) = 0;

  // Event counter for sleeping without lost wake-ups: read eventToken(), re-check the channels, then call
  // waitForEvent(token, ...), which returns at once if anything was posted/released to this rank since the
  // token was read, else sleeps until that happens or `timeoutNs` passes. Spurious returns are allowed.
  virtual uint32_t eventToken() = 0;
  virtual void waitForEvent(uint32_t token, uint64_t timeoutNs) = 0;

  // Liveness of a peer: mixcclSuccess if it is alive; otherwise mixcclRemoteError with *why saying what happened
  // ("rank 2 (pid 123, host h) exited"). NOT logged here: the caller adds what it was doing and logs once.
  virtual Result checkPeer(int peer, std::string* why) = 0;
  // Tells every peer of this transport that the communicator failed because of rank `culprit` (or this rank
  // aborted: culprit == own rank), and wakes them.
  virtual void notifyAbort(int culprit) = 0;
  // -1 if no peer has notified an abort; else the culprit rank a peer reported.
  virtual int abortNotice() = 0;
};

}  // namespace mixccl

#pragma once
// Collectives of the ranks of one host through one segment of shared host memory (MIXCCL_SHARED_REDUCE=1), for
// GPU ranks that stage through the host (issue 5's PCIe target), and beside them (or alone) ranks without a GPU:
// all-reduce, reduce-scatter, all-gather, broadcast and reduce. Each rank's input crosses PCIe once each way and the
// host reads every input once, where the host engine's ring sends 2 (n - 1) / n of every rank's buffer (for an
// all-reduce) through its transport's slots, each byte copied into a slot and out again, on top of whole-buffer
// staging.
//
// The segment holds two slots; each has an input region per rank and one output region, all of `slotBytes`, and
// every rank has two counters in it (`landed`, `reduced`) and a word per slot (`copied out`). A call is cut into
// pieces that fit the slots (core/shared_shape.h says how, and what each rank copies and computes), and the pieces
// of all calls are numbered from 0 in issue order (reserve()): every rank issues the same collectives in the same
// order, so the numbers agree. For piece k, on rank r (as for an all-reduce; the shape names the other
// collectives' copies and work):
//   0. once the rank has copied piece k - 2 out of slot k % 2 (its copied-out word, which the copier sets to
//      k - 1: the rank's stream with streamWriteFlag, or the host with copiedOut()), and its input has landed in
//      input(k) (the rank's stream copies it, or the host): landed[r] = k + 1;
//   1. once every rank's landed >= k + 1, the rank reduces its shard of the piece (about an nth of the elements)
//      over every rank's input, in rank order, into output(k) (its work); reduced[r] = k + 1;
//   2. once every rank's reduced >= k + 1, the output is whole: the rank copies it out.
// So the output slot is written for piece k only when every rank has copied piece k - 2 out of it. The input slot
// may be written for piece k only once every rank has reduced piece k - 2: the host runs pieces in order; a stream
// copies in after its proxy's job that used the slot last has run (slotUser(), noteSlotUse()).
// Every element is reduced once, by one rank, and copied: every rank gets the same bits, whatever its memory.
//
// Failure: a rank whose wait fails (time-out, abort, a peer gone), or that gives up on a piece (fail()), marks the
// segment failed; every later or waiting step of every rank then fails at once, naming that rank.
//
// Thread-safety: reserve(), slotUser() and noteSlotUse() from the thread that issues the calls; the steps and
// meet() from one thread at a time (the proxy).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "core/shared_shape.h"
#include "engine/coll_args.h"
#include "engine/op_runner.h"

namespace mixccl {

class GpuBackend;
namespace detail {
class ShmSegment;
}

class SharedReduce {
 public:
  static constexpr int kSlots = 2;

  // Collective over `bs`: every rank calls it once at init. Sets *out when MIXCCL_SHARED_REDUCE=1 on every rank and
  // `eligible` (this rank's view of shared facts: one host, no gpu_ipc) holds; leaves it null otherwise (saying why
  // in a warning when the setting is 1). `gpu`: this rank's backend, with its device current, or null for a rank
  // without a GPU (a CPU rank); the segment is registered with it. Errors: settings that differ between ranks or are
  // malformed (mixcclInvalidUsage / mixcclInvalidArgument), a segment that cannot be made, mapped or registered, or
  // /dev/shm too small for it (mixcclSystemError); every rank fails alike.
  // MIXCCL_SHARED_REDUCE=auto on every rank: as 1 where every rank also has a GPU in use (its context started), but
  // never an error once the settings agree: too little /dev/shm, or a segment that cannot be set up, leaves *out null
  // on every rank (said at INFO; a failure also where it happened).
  static Result create(Bootstrap& bs, bool eligible, GpuBackend* gpu, std::unique_ptr<SharedReduce>* out);
  ~SharedReduce();  // unregisters the segment from the GPU and unmaps it
  SharedReduce(const SharedReduce&) = delete;
  SharedReduce& operator=(const SharedReduce&) = delete;

  // Whether a collective with these arguments goes through here (the caller also leaves out pre-mul-sum calls), and
  // how it is cut into pieces (precondition: fits(args)).
  bool fits(const CollArgs& args) const;
  SharedShape shape(const CollArgs& args) const;
  // The number of pieces of `args`, and reserves as many piece numbers; returns the first.
  uint64_t reserve(const CollArgs& args, uint64_t* pieces);
  // The last proxy job that used piece k's slot (false when none did): its ticket, which a stream's copy into the
  // slot waits for, and its place among the proxy's jobs (StreamProxy::submit; no wait is needed once it completed).
  // noteSlotUse: that job uses the slot of piece k.
  bool slotUser(uint64_t k, uint32_t* ticket, uint64_t* place) const;
  void noteSlotUse(uint64_t k, uint32_t ticket, uint64_t place);

  // Where piece `k`'s input of this rank goes, and where its output is read.
  char* input(uint64_t k) const;
  const char* output(uint64_t k) const;
  // This rank's copied-out word of piece k's slot: whoever copies piece k out sets it to uint32(k + 1) (a stream with
  // streamWriteFlag: the segment is registered with the GPU), or calls copiedOut(k) (the host).
  uint32_t* copiedOutWord(uint64_t k) const;
  void copiedOut(uint64_t k);

  // The steps of one piece, which never wait (their order is the header's):
  // whether this rank copied piece k - 2 out (true for k < 2);
  bool slotDrained(uint64_t k) const;
  // step 0 (the input has landed); step 1's work for piece k, piece i of a call of that shape, then its mark;
  void land(uint64_t k);
  void work(uint64_t k, const SharedShape& shape, uint64_t i);
  void markReduced(uint64_t k);
  // the first rank that has not landed (reduced = false) or reduced (true) piece k yet, or -1 when all have.
  int firstBehind(bool reduced, uint64_t k) const;
  // Whether some rank marked the segment failed, and the error that says so for piece k.
  bool failed() const;
  Result failedError(uint64_t k) const;
  // Marks the segment failed by this rank (a piece it cannot take part in).
  void fail();

  // What meet() checks while it waits for `peer` (after the first few polls): a non-success result, already
  // logged, makes it give up with that result.
  using Check = std::function<Result(int peer)>;
  // The steps of piece `k` (piece i of a call of that shape), waiting between them, once this rank's input has
  // landed: returns when the output is whole. Waits at most `timeoutSec` for each.
  Result meet(uint64_t k, const SharedShape& shape, uint64_t i, double timeoutSec, const Check& check);
  // A collective of host buffers through the segment from piece `first` (reserved), copies included, as an
  // OpRunner that a wait loop drives beside other ops. Marks the segment failed if destroyed before it is done.
  std::unique_ptr<OpRunner> hostOp(const CollArgs& args, const void* send, void* recv, uint64_t first);

 private:
  SharedReduce() = default;
  struct Header;
  struct Counter;
  Header* header() const;
  Counter* counters() const;  // landed[0..n), then reduced[0..n)
  // Region i of piece k's slot: rank i's input (i < n), or the output (i == n).
  char* region(uint64_t k, int i) const;
  // The output's `count` elements from byte `at` on: every rank's input there, folded in rank order.
  void reduceRange(uint64_t k, size_t at, uint64_t count, mixcclDataType_t dtype, mixcclRedOp_t op);
  // Waits until `behind()` says -1 (else the rank it waits for), checking failure, `check` and the time-out.
  Result waitFor(uint64_t k, const char* what, const std::function<int()>& behind, double timeoutSec,
                 const Check& check);

  int rank_ = 0;
  int nranks_ = 0;
  uint64_t slotBytes_ = 0;
  std::unique_ptr<detail::ShmSegment> segment_;
  char* data_ = nullptr;           // the slots (page-aligned)
  std::atomic<uint64_t> next_{0};  // the next piece number to reserve
  uint32_t slotTicket_[kSlots] = {};
  uint64_t slotPlace_[kSlots] = {};  // 0: no job used the slot yet
  GpuBackend* registered_ = nullptr;
};

}  // namespace mixccl

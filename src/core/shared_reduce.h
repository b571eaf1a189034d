#pragma once
// All-reduce of the ranks of one host through one segment of shared host memory (MIXCCL_SHARED_REDUCE=1), for
// GPU ranks that stage through the host (issue 5's PCIe target): each rank's input crosses PCIe once each way
// and the host reads every input once, where the host engine's ring sends 2 (n - 1) / n of every rank's buffer
// through its transport's slots, each byte copied into a slot and out again, on top of whole-buffer staging.
//
// The segment holds two slots; each has an input region per rank and one output region, all of `slotBytes`, and
// every rank has two counters in it (`landed`, `reduced`). A call is cut into pieces of at most slotBytes, and
// the pieces of all calls are numbered from 0 in issue order (reserve()): every rank issues the same all-reduces
// in the same order, so the numbers agree. For piece k, on rank r:
//   1. the input lands in input(k), slot k % 2 (the rank's stream copies it, or its proxy for host memory); then
//      meet(k): landed[r] = k + 1;
//   2. once every rank's landed >= k + 1, the rank reduces its shard of the piece (about an nth of the elements)
//      over every rank's input, in rank order, into output(k); reduced[r] = k + 1;
//   3. once every rank's reduced >= k + 1, meet(k) returns: the output is whole, and is copied out.
// Reuse, which the caller orders: a rank's input(k + 2) may be written only once its meet(k) has returned (every
// rank has then reduced piece k); a rank lands piece k + 2 only after it copied piece k out, and the shards of
// piece k + 2 are written only once every rank has landed it.
// Every element is reduced once, by one rank, and copied: every rank gets the same bits, whatever its memory.
//
// Failure: a rank whose meet fails (time-out, abort, a peer gone) or that gives up on a piece (fail()) marks the
// segment failed; every later or waiting meet of every rank then fails at once, naming that rank.
//
// Thread-safety: reserve() from the thread that issues the calls, meet() from one thread at a time (the proxy).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "engine/coll_args.h"

namespace mixccl {

class GpuBackend;
namespace detail {
class ShmSegment;
}

class SharedReduce {
 public:
  static constexpr int kSlots = 2;

  // Collective over `bs`: every rank calls it once at init. Sets *out when MIXCCL_SHARED_REDUCE=1 on every rank and
  // `eligible` (this rank's view of shared facts: one host, no gpu_ipc) holds and every rank has a GPU (`hasGpu`);
  // leaves it null otherwise (saying why at INFO). Errors: settings that differ between ranks or are malformed
  // (mixcclInvalidUsage / mixcclInvalidArgument), a segment that cannot be made or mapped, or /dev/shm too small
  // for it (mixcclSystemError); every rank fails alike.
  static Result create(Bootstrap& bs, bool eligible, bool hasGpu, std::unique_ptr<SharedReduce>* out);
  ~SharedReduce();  // unregisters the slots from the GPU (registerWith) and unmaps the segment
  SharedReduce(const SharedReduce&) = delete;
  SharedReduce& operator=(const SharedReduce&) = delete;

  // Whether an all-reduce with these arguments goes through here: the same answer on every rank.
  static bool fits(const CollArgs& args);
  // Elements of `dtype` per piece.
  uint64_t pieceElements(mixcclDataType_t dtype) const;
  // The number of pieces of `args`, and reserves as many piece numbers; returns the first.
  uint64_t reserve(const CollArgs& args, uint64_t* pieces);

  // Where piece `k`'s input of this rank goes, and where its output is read.
  char* input(uint64_t k) const;
  const char* output(uint64_t k) const;

  // What meet() checks while it waits for `peer` (after the first few polls): a non-success result, already
  // logged, makes it give up with that result.
  using Check = std::function<Result(int peer)>;
  // Steps 1 to 3 above for piece `k` of `count` elements, once this rank's input has landed. Waits at most
  // `timeoutSec` for each rank.
  Result meet(uint64_t k, uint64_t count, mixcclDataType_t dtype, mixcclRedOp_t op, double timeoutSec,
              const Check& check);
  // Marks the segment failed by this rank (a piece it cannot take part in).
  void fail();

  // Registers the slots with `gpu`, so that its streams copy straight to and from them. Once.
  Result registerWith(GpuBackend* gpu);

 private:
  SharedReduce() = default;
  struct Header;
  struct Counter;
  Header* header() const;
  Counter* counters() const;  // landed[0..n), then reduced[0..n)
  // Waits until every rank's counter of `which` (0 landed, 1 reduced) is >= target.
  Result waitAll(int which, uint64_t target, uint64_t k, double timeoutSec, const Check& check);
  Result failedError(uint64_t k) const;

  int rank_ = 0;
  int nranks_ = 0;
  uint64_t slotBytes_ = 0;
  std::unique_ptr<detail::ShmSegment> segment_;
  char* data_ = nullptr;  // the slots (page-aligned)
  size_t dataBytes_ = 0;
  std::atomic<uint64_t> next_{0};  // the next piece number to reserve
  GpuBackend* registered_ = nullptr;
};

}  // namespace mixccl

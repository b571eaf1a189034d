// The rounds of each collective through gpu_ipc (the protocol, its flags and why slots can be reused without a
// wait of their own: gpu_ipc.h). Everything here is enqueued on one stream; nothing waits on the host.
#include <algorithm>
#include <cstring>

#include "core/datatype.h"
#include "core/device_scope.h"
#include "transports/gpu_ipc/gpu_ipc.h"

namespace mixccl {

Result GpuIpc::copyIn(void* dst, const void* user, size_t bytes, void* stream) {
  if (!hostCall_) return gpu_->copyAsync(dst, user, bytes, stream);
  for (size_t k = 0; k < bytes; k += kBounceBytes) {
    const size_t n = std::min(kBounceBytes, bytes - k);
    MIXCCL_TRY(gpu_->streamSynchronize(stream));  // the bounce buffer's previous copy is done
    std::memcpy(bounce_, static_cast<const char*>(user) + k, n);
    MIXCCL_TRY(gpu_->copyAsync(static_cast<char*>(dst) + k, bounce_, n, stream));
  }
  return mixcclSuccess;
}

Result GpuIpc::copyOut(void* user, const void* src, size_t bytes, void* stream) {
  if (!hostCall_) return gpu_->copyAsync(user, src, bytes, stream);
  for (size_t k = 0; k < bytes; k += kBounceBytes) {
    const size_t n = std::min(kBounceBytes, bytes - k);
    MIXCCL_TRY(gpu_->copyAsync(bounce_, static_cast<const char*>(src) + k, n, stream));
    MIXCCL_TRY(gpu_->streamSynchronize(stream));
    std::memcpy(static_cast<char*>(user) + k, bounce_, n);
  }
  return mixcclSuccess;
}

Result GpuIpc::exchange(void* stream, uint32_t seq) {
  const uint32_t p = seq & 1;
  MIXCCL_TRY(gpu_->streamWriteFlag(stream, flag(rank_, kArrive, p), seq));
  return waitAll(stream, kArrive, p, seq);
}

Result GpuIpc::closeRound(void* stream, uint32_t seq) {
  return gpu_->streamWriteFlag(stream, flag(rank_, kGathered, seq & 1), seq);
}

Result GpuIpc::reduceTo(char* out, const void* const* srcs, size_t count, const ReduceSpec& spec, void* stream,
                        bool host, uint32_t p) {
  // A kernel writes device memory only: host outputs go through this rank's result slot.
  char* dst = host ? resultSlot(rank_, p) : out;
  MIXCCL_TRY(gpu_->reduceNAsync(dst, srcs, nranks_, count, spec, stream));
  return host ? copyOut(out, dst, count * dataTypeSize(spec.dtype), stream) : mixcclSuccess;
}

Result GpuIpc::allReduceRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream,
                              bool host) {
  const uint32_t seq = ++seq_, p = seq & 1;
  const size_t esz = dataTypeSize(spec.dtype);
  auto lo = [&](int r) { return count * size_t(r) / size_t(nranks_); };
  MIXCCL_TRY(copyIn(inSlot(rank_, p), send, count * esz, stream));
  MIXCCL_TRY(exchange(stream, seq));
  const void* srcs[kMaxRanks];
  if (count * esz <= kOneShotBytes) {
    for (int r = 0; r < nranks_; ++r) srcs[r] = inSlot(r, p);
    MIXCCL_TRY(reduceTo(recv, srcs, count, spec, stream, host, p));
    return closeRound(stream, seq);
  }
  const size_t mine = lo(rank_ + 1) - lo(rank_);
  if (mine > 0) {
    for (int r = 0; r < nranks_; ++r) srcs[r] = inSlot(r, p) + lo(rank_) * esz;
    MIXCCL_TRY(gpu_->reduceNAsync(resultSlot(rank_, p) + lo(rank_) * esz, srcs, nranks_, mine, spec, stream));
  }
  MIXCCL_TRY(gpu_->streamWriteFlag(stream, flag(rank_, kDone, p), seq));
  MIXCCL_TRY(waitAll(stream, kDone, p, seq));
  for (int r = 0; r < nranks_; ++r) {
    const size_t bytes = (lo(r + 1) - lo(r)) * esz;
    if (bytes > 0) MIXCCL_TRY(copyOut(recv + lo(r) * esz, resultSlot(r, p) + lo(r) * esz, bytes, stream));
  }
  return closeRound(stream, seq);
}

kernels::FusedArgs GpuIpc::fusedArgs(kernels::FusedKind kind, uint32_t seq, size_t count, bool recvOnHost) const {
  const uint32_t p = seq & 1;
  kernels::FusedArgs a;
  a.kind = kind;
  for (int r = 0; r < nranks_; ++r) {
    a.arrive[r] = flag(r, kArrive, p);
    if (kind == kernels::FusedKind::kOneShot) {
      a.slots[r] = inSlot(r, p);
    } else {
      a.words[r] = addressWords(r, p);
      a.done[r] = flag(r, kDone, p);
    }
  }
  // With a copy out to host memory after the kernel, the round's end is written after that copy (closeRound).
  a.gathered = recvOnHost ? nullptr : flag(rank_, kGathered, p);
  a.blocksOut = reinterpret_cast<uint64_t*>(workspaces_[rank_] + kBlocksOutOffset);
  a.seq = seq;
  a.n = nranks_;
  a.me = rank_;
  a.count = count;
  return a;
}

Result GpuIpc::fusedOneShotRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream,
                                 bool sendOnHost, bool recvOnHost) {
  const uint32_t seq = ++seq_, p = seq & 1;
  const size_t bytes = count * dataTypeSize(spec.dtype);
  kernels::FusedArgs a = fusedArgs(kernels::FusedKind::kOneShot, seq, count, recvOnHost);
  a.send = send;
  a.recv = recv;
  if (sendOnHost) {
    MIXCCL_TRY(copyIn(inSlot(rank_, p), send, bytes, stream));
    a.send = inSlot(rank_, p);  // the kernel's copy into the slot is then a copy onto itself
  }
  if (recvOnHost) a.recv = resultSlot(rank_, p);
  MIXCCL_TRY(gpu_->fusedAsync(a, spec, stream));
  if (!recvOnHost) return mixcclSuccess;
  MIXCCL_TRY(copyOut(recv, a.recv, bytes, stream));
  return closeRound(stream, seq);
}

Result GpuIpc::directRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream,
                           bool sendOnHost, bool recvOnHost) {
  const size_t esz = dataTypeSize(spec.dtype);
  // A kernel reaches device memory only: host buffers of this rank go through its slots (or the stage, allocated
  // here: should that fail, the round has not begun, so this rank's later rounds keep their sequence numbers).
  char* inDev = nullptr;
  char* outDev = nullptr;
  if (sendOnHost || recvOnHost) MIXCCL_TRY(directSlots(count * esz, (seq_.load() + 1) & 1, &inDev, &outDev));
  const uint32_t seq = ++seq_, p = seq & 1;
  const char* in = sendOnHost ? inDev : send;
  char* out = recvOnHost ? outDev : recv;
  if (sendOnHost) MIXCCL_TRY(copyIn(inDev, send, count * esz, stream));
  if (fused_) {
    kernels::FusedArgs a = fusedArgs(kernels::FusedKind::kDirect, seq, count, recvOnHost);
    a.send = in;
    a.recv = out;
    MIXCCL_TRY(gpu_->fusedAsync(a, spec, stream));
    if (!recvOnHost) return mixcclSuccess;
    MIXCCL_TRY(copyOut(recv, out, count * esz, stream));
    return closeRound(stream, seq);
  }
  const uint64_t addresses[2] = {reinterpret_cast<uintptr_t>(in), reinterpret_cast<uintptr_t>(out)};
  uint32_t* mine = addressWords(rank_, p);
  for (int w = 0; w < 4; ++w) {
    MIXCCL_TRY(gpu_->streamWriteFlag(stream, mine + w, uint32_t(addresses[w / 2] >> (32 * (w % 2)))));
  }
  MIXCCL_TRY(exchange(stream, seq));
  const size_t lo = count * size_t(rank_) / size_t(nranks_), hi = count * size_t(rank_ + 1) / size_t(nranks_);
  const uint32_t* words[kMaxRanks];
  for (int r = 0; r < nranks_; ++r) words[r] = addressWords(r, p);
  if (hi > lo) MIXCCL_TRY(gpu_->reduceToAllAsync(words, nranks_, lo, hi - lo, spec, stream));
  MIXCCL_TRY(gpu_->streamWriteFlag(stream, flag(rank_, kDone, p), seq));
  MIXCCL_TRY(waitAll(stream, kDone, p, seq));
  if (recvOnHost) MIXCCL_TRY(copyOut(recv, out, count * esz, stream));
  return closeRound(stream, seq);
}

Result GpuIpc::directSlots(size_t bytes, uint32_t p, char** in, char** out) {
  if (bytes <= chunkBytes_) {
    *in = inSlot(rank_, p);
    *out = resultSlot(rank_, p);
    return mixcclSuccess;
  }
  if (bytes > stageRound_) {
    size_t round = chunkBytes_;
    while (round < bytes) round *= 2;
    round = std::min(round, directRoundBytes());  // still >= bytes: a round is no larger
    void* mem = nullptr;
    MIXCCL_TRY(gpu_->allocDevice(4 * round, &mem));
    if (stage_ != nullptr) retiredStages_.push_back(stage_);
    stage_ = static_cast<char*>(mem);
    stageRound_ = round;
  }
  *in = stage_ + p * stageRound_;
  *out = stage_ + (2 + p) * stageRound_;
  return mixcclSuccess;
}

Result GpuIpc::allGatherRound(const char* send, char* recv, size_t count, size_t off, size_t n, size_t esz,
                              void* stream) {
  const uint32_t seq = ++seq_, p = seq & 1;
  MIXCCL_TRY(copyIn(inSlot(rank_, p), send + off * esz, n * esz, stream));
  MIXCCL_TRY(exchange(stream, seq));
  for (int r = 0; r < nranks_; ++r) {
    MIXCCL_TRY(copyOut(recv + (size_t(r) * count + off) * esz, inSlot(r, p), n * esz, stream));
  }
  return closeRound(stream, seq);
}

Result GpuIpc::reduceScatterRound(const char* send, char* recv, size_t count, size_t off, size_t n,
                                  const ReduceSpec& spec, void* stream, bool host) {
  const uint32_t seq = ++seq_, p = seq & 1;
  const size_t esz = dataTypeSize(spec.dtype);
  // Elements [off, off + n) of every rank's block of my input, block b at b * n in my slot.
  for (int b = 0; b < nranks_; ++b) {
    MIXCCL_TRY(copyIn(inSlot(rank_, p) + size_t(b) * n * esz, send + (size_t(b) * count + off) * esz, n * esz,
                      stream));
  }
  MIXCCL_TRY(exchange(stream, seq));
  const void* srcs[kMaxRanks];
  for (int r = 0; r < nranks_; ++r) srcs[r] = inSlot(r, p) + size_t(rank_) * n * esz;
  MIXCCL_TRY(reduceTo(recv + off * esz, srcs, n, spec, stream, host, p));
  return closeRound(stream, seq);
}

Result GpuIpc::broadcastRound(const char* send, char* recv, size_t off, size_t n, size_t esz, int root,
                              void* stream) {
  const uint32_t seq = ++seq_, p = seq & 1;
  if (rank_ == root) MIXCCL_TRY(copyIn(inSlot(root, p), send + off * esz, n * esz, stream));
  MIXCCL_TRY(exchange(stream, seq));  // every rank takes part: the slots' reuse rule needs everyone's arrivals
  // The root copies its own input (nothing in place), except in a host-only call, whose copies take device memory.
  const char* from = rank_ == root && !hostCall_ ? send + off * esz : inSlot(root, p);
  MIXCCL_TRY(copyOut(recv + off * esz, from, n * esz, stream));
  return closeRound(stream, seq);
}

Result GpuIpc::reduceRound(const char* send, char* recv, size_t off, size_t n, const ReduceSpec& spec, int root,
                           void* stream, bool host) {
  const uint32_t seq = ++seq_, p = seq & 1;
  const size_t esz = dataTypeSize(spec.dtype);
  MIXCCL_TRY(copyIn(inSlot(rank_, p), send + off * esz, n * esz, stream));
  MIXCCL_TRY(exchange(stream, seq));
  if (rank_ == root) {
    const void* srcs[kMaxRanks];
    for (int r = 0; r < nranks_; ++r) srcs[r] = inSlot(r, p);
    MIXCCL_TRY(reduceTo(recv + off * esz, srcs, n, spec, stream, host, p));
  }
  return closeRound(stream, seq);
}

Result GpuIpc::run(const CollArgs& args, const void* sendPtr, void* recvPtr, const ReduceSpec& spec, void* stream,
                   bool sendOnHost, bool recvOnHost) {
  const bool hostOnly = sendOnHost && recvOnHost;
  if (hostOnly) stream = hostStream_;
  // A host-only call may come on a thread whose current device is another (the caller set none for it).
  const DeviceScope onDevice(hostOnly ? gpu_ : nullptr, device_);
  const int aborter = share_ == nullptr ? -1 : share_->abortedBy();
  if (aborter >= 0) {
    return failf(mixcclRemoteError, "rank %d: %s: rank %d of this process aborted the communicator; its ranks' "
                 "calls no longer wait for each other", rank_, collName(args.type), aborter);
  }
  const uint32_t last = seq_.load();
  const int holder = hostOnly || share_ == nullptr ? -1 : share_->claim(stream, rank_, rounds_ + 1);
  if (holder >= 0) {
    return failf(mixcclInvalidUsage, "rank %d: %s on stream %p, where rank %d of this process has enqueued its part of "
                 "this collective already: ranks of one process need streams of their own, or one group "
                 "(mixcclGroupStart/End) around their calls; on one stream each would wait for the other's part, "
                 "queued behind it", rank_, collName(args.type), stream, holder);
  }
  // This rank's rounds run in order (gpu_ipc.h, "Streams"), whichever stream each call comes on.
  // Every round ends with this rank's `gathered` at its seq, so waiting for the last one's is waiting for the previous
  // call: no event to record at every call.
  if (last > 0 && stream != lastStream_) {
    MIXCCL_TRY(gpu_->streamWaitFlag(stream, flag(rank_, kGathered, last & 1), last));
  }
  hostCall_ = hostOnly;
  const bool host = recvOnHost;
  const auto* send = static_cast<const char*>(sendPtr);
  auto* recv = static_cast<char*>(recvPtr);
  const size_t esz = dataTypeSize(args.dtype);
  const size_t count = size_t(args.count);
  const size_t perRound = chunkBytes_ / esz;
  auto rounds = [&](size_t step, auto&& one) -> Result {
    for (size_t off = 0; off < count; off += step) MIXCCL_TRY(one(off, std::min(step, count - off)));
    return mixcclSuccess;
  };
  Result res = mixcclSuccess;
  switch (args.type) {
    case CollType::kAllReduce:
      if (fused_ && count * esz <= kFusedOneShotBytes) {  // the same choice on every rank (fused_ is agreed at init)
        res = fusedOneShotRound(send, recv, count, spec, stream, sendOnHost, recvOnHost);
        break;
      }
      if (allOneProcess_ && count * esz > (fused_ ? kFusedOneShotBytes : kOneShotBytes)) {
        res = rounds(directRoundBytes() / esz, [&](size_t off, size_t n) {
          return directRound(send + off * esz, recv + off * esz, n, spec, stream, sendOnHost, recvOnHost);
        });
        break;
      }
      res = rounds(perRound, [&](size_t off, size_t n) {
        return allReduceRound(send + off * esz, recv + off * esz, n, spec, stream, host);
      });
      break;
    case CollType::kAllGather:
      res = rounds(perRound, [&](size_t off, size_t n) {
        return allGatherRound(send, recv, count, off, n, esz, stream);
      });
      break;
    case CollType::kReduceScatter:
      // A round holds n elements of each of the nranks blocks.
      res = rounds(std::max<size_t>(1, perRound / size_t(nranks_)), [&](size_t off, size_t n) {
        return reduceScatterRound(send, recv, count, off, n, spec, stream, host);
      });
      break;
    case CollType::kBroadcast:
      res = rounds(perRound, [&](size_t off, size_t n) {
        return broadcastRound(send, recv, off, n, esz, args.root, stream);
      });
      break;
    case CollType::kReduce:
      res = rounds(perRound, [&](size_t off, size_t n) {
        return reduceRound(send, recv, off, n, spec, args.root, stream, host);
      });
      break;
    default:
      return failf(mixcclInternalError, "gpu_ipc: %s is not a collective it runs", collName(args.type));
  }
  rounds_ += seq_.load() - last;  // the rounds taken, also by a call that failed half-way (as on every rank)
  MIXCCL_TRY(res);
  if (!hostOnly && share_ != nullptr) share_->settle(stream, rank_, rounds_);
  lastStream_ = stream;
  return hostOnly ? gpu_->streamSynchronize(stream) : mixcclSuccess;
}

}  // namespace mixccl

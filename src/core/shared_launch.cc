#include "core/shared_launch.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/communicator.h"
#include "core/datatype.h"
#include "core/device_launch.h"
#include "core/fork_stream.h"
#include "core/shared_reduce.h"
#include "core/shared_shape.h"
#include "core/staging_pool.h"
#include "core/stream_proxy.h"

namespace mixccl {
namespace {

// The events of one launch, taken from the staging pool and given back once the stream passed the last one.
class Events {
 public:
  Events(StagingPool& pool, GpuBackend* gpu) : pool_(pool), gpu_(gpu) {}
  // Records an event on `stream` now; *out is it.
  Result record(void* stream, void** out) {
    MIXCCL_TRY(pool_.acquireEvent(out));
    taken_.push_back(*out);
    return gpu_->eventRecord(*out, stream);
  }
  // Gives the events back once `last` has completed (at once when null: nothing was enqueued that uses them).
  void release(void* last) {
    pool_.releaseAfter({}, std::move(taken_), last != nullptr ? std::vector<void*>{last} : std::vector<void*>{});
  }

 private:
  StagingPool& pool_;
  GpuBackend* gpu_;
  std::vector<void*> taken_;
};

// What a shared collective's wait checks on the proxy thread (core/shared_reduce.h): an abort of this rank or of
// a peer, and a peer that is gone.
SharedReduce::Check sharedCheck(Communicator& comm, const std::atomic<bool>& cancelled) {
  auto gone = comm.peerGoneCheck();
  return [&comm, &cancelled, gone](int peer) -> Result {
    if (cancelled.load() || comm.waitPolicy().cancelled->load()) {
      return failf(mixcclRemoteError, "rank %d: shared segment: the communicator was aborted", comm.rank());
    }
    const int culprit = comm.peerAbortCulprit();
    if (culprit >= 0) {
      return failf(mixcclRemoteError, "rank %d: shared segment: rank %d aborted the communicator", comm.rank(),
                   culprit);
    }
    std::string why;
    if (gone(peer, &why)) {
      return failf(mixcclRemoteError, "rank %d: shared segment: rank %d is gone (%s)", comm.rank(), peer,
                   why.c_str());
    }
    return mixcclSuccess;
  };
}

// Piece i (numbered k) of a shared collective on the proxy thread, once the stream reached it (`inputs`): the
// copies in from a send buffer in host memory (`hostSend`; null: the stream's), the meeting, and where the receive
// buffer is not on the GPU (`recvByHost`) the copies out to `hostRecv` and the slot's copied-out word.
Result runSharedPiece(Communicator& comm, uint64_t k, const SharedShape& shape, uint64_t i, const char* hostSend,
                      char* hostRecv, bool recvByHost, Result inputs, const std::atomic<bool>& cancelled) {
  SharedReduce& sr = *comm.sharedReduce();
  if (inputs != mixcclSuccess) {
    sr.fail();  // the others would wait for this piece
    return inputs;
  }
  if (hostSend != nullptr) {
    shape.forEachIn(i, [&](const SharedCopy& c) { memcpy(sr.input(k) + c.region, hostSend + c.user, c.bytes); });
  }
  MIXCCL_TRY(sr.meet(k, shape, i, comm.waitPolicy().timeoutSec, sharedCheck(comm, cancelled)));
  if (recvByHost) {
    shape.forEachOut(i, [&](const SharedCopy& c) { memcpy(hostRecv + c.user, sr.output(k) + c.region, c.bytes); });
    sr.copiedOut(k);
  }
  return mixcclSuccess;
}

}  // namespace

bool viaShared(const Communicator& c, const CollCall& call) {
  return c.sharedReduce() != nullptr && c.sharedReduce()->fits(call.args) && !call.scale && call.owned == nullptr;
}

bool reserveSharedPiece(Communicator& c, CollCall& call) {
  if (call.sharedPiece != kNotShared) return true;
  if (!viaShared(c, call)) return false;
  uint64_t pieces = 0;
  call.sharedPiece = c.sharedReduce()->reserve(call.args, &pieces);
  return true;
}

bool reserveSharedPieces(Communicator& c, std::vector<CollCall>& calls) {
  bool any = false;
  for (CollCall& call : calls) any |= reserveSharedPiece(c, call);
  return any;
}

void noteSharedUse(Communicator& c, const std::vector<CollCall>& calls, uint32_t ticket, uint64_t place) {
  for (const CollCall& call : calls) {
    if (call.sharedPiece == kNotShared) continue;
    const uint64_t pieces = c.sharedReduce()->shape(call.args).pieces();
    // The last kSlots pieces name every slot the job used last.
    for (uint64_t k = pieces > SharedReduce::kSlots ? pieces - SharedReduce::kSlots : 0; k < pieces; ++k) {
      c.sharedReduce()->noteSlotUse(call.sharedPiece + k, ticket, place);
    }
  }
}

void failSharedPieces(Communicator& c, const std::vector<CollCall>& calls) {
  for (const CollCall& call : calls) {
    if (call.sharedPiece != kNotShared) c.sharedReduce()->fail();
  }
}

// A shared collective on device memory (core/shared_reduce.h), one job per piece. The copies in run on the
// communicator's own stream (core/fork_stream.h; it first waits for the user's stream to reach the call), the copies
// out on the user's stream, so the two directions of PCIe overlap. (Not where other ranks are threads of this
// process: their streams' copies overlap with this rank's already, and a second stream per rank that waits for the
// proxy would make the ranks' streams share the context's hardware queues sooner, one rank's wait then holding
// another's copies.) For piece k (its copies: core/shared_shape.h):
//   copy-in stream:  [wait for the job that used the slot last]  D2H k into the input slot  event E_k
//   job k (proxy):   waits for E_k; meets the other ranks (SharedReduce::meet, which first waits until this rank
//                    copied piece k - 2 out of the slot)
//   user's stream:   wait for job k  H2D k from the output slot  copied-out word of the slot = k + 1
// A buffer in host memory is copied by the job instead (and the copy-in stream is then not used). Before the call's
// last event, the user's stream waits for the copy-in stream: later work, and the teardown, see both done.
Result enqueueShared(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, const CollCall& call) {
  SharedReduce& sr = *c.sharedReduce();
  // (A broadcast's other ranks read no send buffer: it may be anywhere, or null.)
  const bool readsInput = readsSend(call.args, c.rank());
  const bool sendOnGpu = readsInput && onGpu(call.sendMem), recvOnGpu = onGpu(call.recvMem);
  void* inStream = call.stream;
  if (sendOnGpu && !c.sharesProcess()) {
    ForkStream* fork = nullptr;
    Result res = c.forkStream(gpu, call.device, &fork);
    if (res == mixcclSuccess) res = fork->forkFrom(call.stream);
    if (res != mixcclSuccess) {
      sr.fail();  // the others would wait for this rank's pieces
      c.setAsyncError(res);
      return res;
    }
    inStream = fork->stream();
  }
  Events events(rt->pool(), gpu);
  const SharedShape shape = sr.shape(call.args);
  uint64_t pieces = 0;
  const uint64_t first = sr.reserve(call.args, &pieces);
  const char* send = static_cast<const char*>(call.send);
  char* recv = static_cast<char*>(call.recv);
  std::vector<uint32_t> tickets;
  auto copyBack = [&](uint64_t i) -> Result {
    MIXCCL_TRY(gpu->streamWaitFlag(call.stream, rt->proxy().flag(), tickets[i]));
    if (!recvOnGpu) return mixcclSuccess;  // the job copied it
    Result r = mixcclSuccess;
    shape.forEachOut(i, [&](const SharedCopy& cp) {
      if (r != mixcclSuccess) return;
      r = gpu->copyAsync(recv + cp.user, sr.output(first + i) + cp.region, cp.bytes, call.stream);
    });
    MIXCCL_TRY(r);
    return gpu->streamWriteFlag(call.stream, sr.copiedOutWord(first + i), uint32_t(first + i + 1));
  };
  auto copyIn = [&](uint64_t i) -> Result {
    Result r = mixcclSuccess;
    shape.forEachIn(i, [&](const SharedCopy& cp) {
      if (r == mixcclSuccess) r = gpu->copyAsync(sr.input(first + i) + cp.region, send + cp.user, cp.bytes, inStream);
    });
    return r;
  };
  Result res = mixcclSuccess;
  void* landed = nullptr;
  for (uint64_t i = 0; i < pieces && res == mixcclSuccess; ++i) {
    const uint64_t k = first + i;
    if (i >= SharedReduce::kSlots) res = copyBack(i - SharedReduce::kSlots);
    uint32_t slotFree = 0;
    uint64_t user = 0;
    if (res == mixcclSuccess && sendOnGpu && sr.slotUser(k, &slotFree, &user) && rt->proxy().completed() < user) {
      res = gpu->streamWaitFlag(inStream, rt->proxy().flag(), slotFree);
    }
    if (res == mixcclSuccess && sendOnGpu) res = copyIn(i);
    if (res == mixcclSuccess) res = events.record(inStream, &landed);
    if (res != mixcclSuccess) break;
    StreamProxy::Job job;
    job.inputsReady.push_back(landed);
    job.bytes = 0;  // this rank's result bytes
    shape.forEachOut(i, [&](const SharedCopy& cp) { job.bytes += cp.bytes; });
    const char* hostSend = readsInput && !sendOnGpu ? send : nullptr;
    char* hostRecv = recvOnGpu ? nullptr : recv;
    job.run = [&c, k, shape, i, hostSend, hostRecv, recvOnGpu](Result inputs, const std::atomic<bool>& cancelled) {
      Result r = runSharedPiece(c, k, shape, i, hostSend, hostRecv, !recvOnGpu, inputs, cancelled);
      if (r != mixcclSuccess) c.setAsyncError(r);
      return r;
    };
    tickets.emplace_back();
    const uint64_t place = rt->proxy().submit(std::move(job), &tickets.back());
    sr.noteSlotUse(k, tickets.back(), place);
  }
  const uint64_t tail = pieces > SharedReduce::kSlots ? pieces - SharedReduce::kSlots : 0;
  for (uint64_t i = tail; i < tickets.size() && res == mixcclSuccess; ++i) res = copyBack(i);
  // The user's stream joins the copy-in stream, then the call's last event: once it has passed, neither stream
  // touches the segment, the events or the user's buffers for this call. Also after a failure, for what was queued.
  Result joined = landed == nullptr || inStream == call.stream ? mixcclSuccess
                                                                : gpu->streamWaitEvent(call.stream, landed);
  void* done = nullptr;
  if (joined == mixcclSuccess) joined = events.record(call.stream, &done);
  if (res == mixcclSuccess) res = joined;
  if (res != mixcclSuccess) {
    // The other ranks would wait for the pieces this rank did not hand over: they fail instead.
    sr.fail();
    if (!tickets.empty()) rt->proxy().drain();
    events.release(done);  // null when not even that could be recorded: given back at once
    c.setAsyncError(res);
    return res;
  }
  events.release(done);
  return mixcclSuccess;
}

}  // namespace mixccl

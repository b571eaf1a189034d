#include "core/shared_launch.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/communicator.h"
#include "core/datatype.h"
#include "core/device_launch.h"
#include "core/fork_stream.h"
#include "core/shared_reduce.h"
#include "core/staging_pool.h"
#include "core/stream_proxy.h"

namespace mixccl {
namespace {

bool onGpu(MemoryType t) { return t != MemoryType::kHost; }

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

// What a shared all-reduce's wait checks on the proxy thread (core/shared_reduce.h): an abort of this rank or of
// a peer, and a peer that is gone.
SharedReduce::Check sharedCheck(Communicator& comm, const std::atomic<bool>& cancelled) {
  auto gone = comm.peerGoneCheck();
  return [&comm, &cancelled, gone](int peer) -> Result {
    if (cancelled.load() || comm.waitPolicy().cancelled->load()) {
      return failf(mixcclRemoteError, "rank %d: shared all-reduce: the communicator was aborted", comm.rank());
    }
    const int culprit = comm.peerAbortCulprit();
    if (culprit >= 0) {
      return failf(mixcclRemoteError, "rank %d: shared all-reduce: rank %d aborted the communicator", comm.rank(),
                   culprit);
    }
    std::string why;
    if (gone(peer, &why)) {
      return failf(mixcclRemoteError, "rank %d: shared all-reduce: rank %d is gone (%s)", comm.rank(), peer,
                   why.c_str());
    }
    return mixcclSuccess;
  };
}

// One piece of a shared all-reduce on the proxy thread, once the stream reached it (`inputs`): the host-memory
// side's copy in, the meeting, the host-memory side's copy out (null: that side is the stream's). `a.count` is the
// piece's.
Result runSharedPiece(Communicator& comm, uint64_t k, const CollArgs& a, const char* hostSend, char* hostRecv,
                      Result inputs, const std::atomic<bool>& cancelled) {
  SharedReduce& sr = *comm.sharedReduce();
  const size_t bytes = a.count * dataTypeSize(a.dtype);
  if (inputs != mixcclSuccess) {
    sr.fail();  // the others would wait for this piece
    return inputs;
  }
  if (hostSend != nullptr) memcpy(sr.input(k), hostSend, bytes);
  MIXCCL_TRY(sr.meet(k, a.count, a.dtype, a.op, comm.waitPolicy().timeoutSec, sharedCheck(comm, cancelled)));
  if (hostRecv != nullptr) memcpy(hostRecv, sr.output(k), bytes);
  return mixcclSuccess;
}

// A shared all-reduce on host memory (staged or the user's), piece by piece from piece `first`.
Result runSharedHost(Communicator& comm, const CollCall& call, uint64_t first, const std::atomic<bool>& cancelled) {
  const uint64_t per = comm.sharedReduce()->pieceElements(call.args.dtype);
  const size_t esz = dataTypeSize(call.args.dtype);
  uint64_t k = first;
  for (uint64_t off = 0; off < call.args.count; off += per, ++k) {
    CollArgs a = call.args;
    a.count = std::min(per, call.args.count - off);
    MIXCCL_TRY(runSharedPiece(comm, k, a, static_cast<const char*>(call.send) + off * esz,
                              static_cast<char*>(call.recv) + off * esz, mixcclSuccess, cancelled));
  }
  return mixcclSuccess;
}

bool anyShared(const std::vector<uint64_t>& shared) {
  return std::find_if(shared.begin(), shared.end(), [](uint64_t k) { return k != kNotShared; }) != shared.end();
}

}  // namespace

Result runCallsInOrder(Communicator& comm, std::vector<CollCall>& calls, const std::vector<uint64_t>& shared,
                       const std::atomic<bool>& cancelled) {
  if (!anyShared(shared)) return runHostCalls(calls);
  std::vector<CollCall> batch;
  auto flush = [&]() -> Result {
    if (batch.empty()) return mixcclSuccess;
    Result r = runHostCalls(batch);
    batch.clear();
    return r;
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    if (shared[i] == kNotShared) {
      batch.push_back(std::move(calls[i]));
      continue;
    }
    MIXCCL_TRY(flush());
    Result r = runSharedHost(comm, calls[i], shared[i], cancelled);
    if (r != mixcclSuccess) {
      comm.sharedReduce()->fail();
      return r;
    }
  }
  return flush();
}

std::vector<uint64_t> reserveSharedPieces(Communicator& c, const std::vector<CollCall>& calls) {
  std::vector<uint64_t> at(calls.size(), kNotShared);
  for (size_t i = 0; i < calls.size() && c.sharedReduce() != nullptr; ++i) {
    uint64_t pieces = 0;
    if (SharedReduce::fits(calls[i].args)) at[i] = c.sharedReduce()->reserve(calls[i].args, &pieces);
  }
  return at;
}

void failSharedPieces(Communicator& c, const std::vector<uint64_t>& shared) {
  if (anyShared(shared)) c.sharedReduce()->fail();
}

bool viaSharedAllReduce(const Communicator& c, const CollCall& call) {
  return c.sharedReduce() != nullptr && SharedReduce::fits(call.args);
}

// A shared all-reduce on device memory (core/shared_reduce.h), one job per piece. The copies in run on the
// communicator's own stream (core/fork_stream.h; it first waits for the user's stream to reach the call), the copies
// out on the user's stream, so the two directions of PCIe overlap. (Not where other ranks are threads of this
// process: their streams' copies overlap with this rank's already, and a second stream per rank that waits for the
// proxy would make the ranks' streams share the context's hardware queues sooner, one rank's wait then holding
// another's copies.) For piece k:
//   copy-in stream:  [wait for job k - 2]  D2H k into the input slot  event E_k
//   job k (proxy):   waits for E_k and for F_(k-2); meets the other ranks (runSharedPiece)
//   user's stream:   wait for job k  H2D k from the output slot  event F_k
// Piece k + 2 reuses piece k's slots: its copy in waits for job k (every rank reduced piece k), and its job waits for
// F_k (this rank copied piece k out) before it says the input landed, after which the others may write the output
// slot. A buffer in host memory is copied by the job instead (and the copy-in stream is then not used).
Result enqueueSharedAllReduce(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, const CollCall& call) {
  SharedReduce& sr = *c.sharedReduce();
  const CollArgs& a = call.args;
  const bool sendOnGpu = onGpu(call.sendMem), recvOnGpu = onGpu(call.recvMem);
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
  const size_t esz = dataTypeSize(a.dtype);
  const uint64_t per = sr.pieceElements(a.dtype);
  uint64_t pieces = 0;
  const uint64_t first = sr.reserve(a, &pieces);
  auto at = [esz, per](const void* p, uint64_t k) {
    return const_cast<char*>(static_cast<const char*>(p)) + k * per * esz;
  };
  auto countOf = [&](uint64_t k) { return std::min(per, a.count - k * per); };
  std::vector<uint32_t> tickets;
  std::vector<void*> copiedOut;  // F_k
  auto copyBack = [&](uint64_t k) -> Result {
    MIXCCL_TRY(gpu->streamWaitFlag(call.stream, rt->proxy().flag(), tickets[k]));
    if (recvOnGpu) MIXCCL_TRY(gpu->copyAsync(at(call.recv, k), sr.output(first + k), countOf(k) * esz, call.stream));
    copiedOut.emplace_back();
    return events.record(call.stream, &copiedOut.back());
  };
  Result res = mixcclSuccess;
  for (uint64_t k = 0; k < pieces && res == mixcclSuccess; ++k) {
    const bool reuse = k >= SharedReduce::kSlots;
    if (reuse) res = copyBack(k - SharedReduce::kSlots);
    if (res == mixcclSuccess && reuse && inStream != call.stream) {
      res = gpu->streamWaitFlag(inStream, rt->proxy().flag(), tickets[k - SharedReduce::kSlots]);
    }
    if (res == mixcclSuccess && sendOnGpu) {
      res = gpu->copyAsync(sr.input(first + k), at(call.send, k), countOf(k) * esz, inStream);
    }
    void* landed = nullptr;
    if (res == mixcclSuccess) res = events.record(inStream, &landed);
    if (res != mixcclSuccess) break;
    StreamProxy::Job job;
    job.inputsReady.push_back(landed);
    if (reuse) job.inputsReady.push_back(copiedOut[k - SharedReduce::kSlots]);
    job.bytes = countOf(k) * esz;
    CollArgs piece = a;
    piece.count = countOf(k);
    const char* hostSend = sendOnGpu ? nullptr : at(call.send, k);
    char* hostRecv = recvOnGpu ? nullptr : at(call.recv, k);
    job.run = [&c, k = first + k, piece, hostSend, hostRecv](Result inputs, const std::atomic<bool>& cancelled) {
      Result r = runSharedPiece(c, k, piece, hostSend, hostRecv, inputs, cancelled);
      if (r != mixcclSuccess) c.setAsyncError(r);
      return r;
    };
    tickets.emplace_back();
    rt->proxy().submit(std::move(job), &tickets.back());
  }
  const uint64_t tail = pieces > SharedReduce::kSlots ? pieces - SharedReduce::kSlots : 0;
  for (uint64_t k = tail; k < tickets.size() && res == mixcclSuccess; ++k) res = copyBack(k);
  void* done = nullptr;
  if (res == mixcclSuccess) res = events.record(call.stream, &done);
  if (res != mixcclSuccess) {
    // The other ranks would wait for the pieces this rank did not hand over: they fail instead.
    sr.fail();
    if (!tickets.empty()) rt->proxy().drain();
    events.release(nullptr);
    c.setAsyncError(res);
    return res;
  }
  events.release(done);
  return mixcclSuccess;
}

}  // namespace mixccl

#include "core/device_launch.h"

#include <algorithm>

#include "core/communicator.h"
#include "core/config.h"
#include "core/datatype.h"
#include "core/device_scope.h"
#include "core/device_steps.h"
#include "core/log.h"
#include "core/pieces.h"
#include "core/pre_mul_sum.h"
#include "core/shared_launch.h"
#include "core/shared_reduce.h"
#include "core/staging_pool.h"
#include "core/stream_proxy.h"
#include "device/deferred_free.h"
#include "transports/gpu_ipc/gpu_ipc.h"

namespace mixccl {
namespace {

// How long teardown waits for streams to finish with the staging memory before leaving it allocated.
constexpr double kTeardownWaitSec = 10;

// The staging of one call: where its buffers live on the host while the proxy runs it.
struct StagedCall {
  size_t sendBytes = 0, recvBytes = 0;
  bool stageSend = false, stageRecv = false;  // the device side of each buffer the call uses
  const void* userSend = nullptr;             // the user's device pointers (where copies come from / go to)
  void* userRecv = nullptr;
};

// The staging state of one launch: the buffers and events it takes from the pool, and the streams involved.
class Launch {
 public:
  Launch(const Communicator& comm, StagingPool& pool) : comm_(comm), pool_(pool) {}

  // Rewrites `call` to staging pointers and, with `copyInputs`, enqueues the copies of its inputs on its stream
  // (else the caller copies them, piece by piece).
  Result stageInputs(GpuBackend* gpu, CollCall* call, StagedCall* staged, bool copyInputs = true);
  // Records an event of the pool on `stream` now (given back with the launch's memory); *out is it.
  Result recordEvent(GpuBackend* gpu, void* stream, void** out);
  // Once every output is enqueued: records, on `stream`, the event after which the staging memory is free.
  Result recordDone(GpuBackend* gpu, void* stream);
  // A call run by device steps: nothing is staged, but its stream takes part (it waits for the proxy). Its inputs
  // are ordered before the job's step server on the GPU (serverStream), not by the proxy.
  void runsOnDevice(const CollCall& call) {
    addStream(call.stream, false);
    if (std::find(deviceStreams_.begin(), deviceStreams_.end(), call.stream) == deviceStreams_.end()) {
      deviceStreams_.push_back(call.stream);
    }
  }
  // The stream of the job's step server (the first device-step call's); every other stream of device-step calls
  // is made to reach its call first. Null without device-step calls.
  Result serverStream(GpuBackend* gpu, void** out);
  // Whether any stream takes part (else the job is on host memory only).
  bool anyStream() const { return !streams_.empty(); }
  // Records, on every stream of staged calls, the event the proxy waits for.
  Result recordInputEvents(GpuBackend* gpu, std::vector<void*>* events);
  // After the job is submitted: every stream waits for `ticket`, then copies the outputs back.
  Result copyOutputs(GpuBackend* gpu, const std::vector<CollCall>& calls, const std::vector<StagedCall>& staged,
                     const uint32_t* flag, uint32_t ticket);
  // Gives the staging memory back to the pool once the streams are done with it (or at once, after a failure).
  void release(bool enqueued);

 private:
  Result take(size_t bytes, char** out) {
    MIXCCL_TRY(pool_.acquire(bytes, out));
    buffers_.push_back(*out);
    return mixcclSuccess;
  }
  // `inputs`: the proxy waits for the stream to reach the job (staged calls).
  void addStream(void* stream, bool inputs = true) {
    if (std::find(streams_.begin(), streams_.end(), stream) == streams_.end()) streams_.push_back(stream);
    if (inputs && std::find(inputStreams_.begin(), inputStreams_.end(), stream) == inputStreams_.end()) {
      inputStreams_.push_back(stream);
    }
  }

  const Communicator& comm_;
  StagingPool& pool_;
  std::vector<void*> streams_;        // every stream of the job's calls: each waits for the job's end
  std::vector<void*> inputStreams_;   // those of staged calls
  std::vector<void*> deviceStreams_;  // those of device-step calls
  std::vector<char*> buffers_;
  std::vector<void*> events_;
  std::vector<void*> doneEvents_;
};

Result Launch::stageInputs(GpuBackend* gpu, CollCall* call, StagedCall* s, bool copyInputs) {
  const CollArgs& a = call->args;
  const size_t esz = dataTypeSize(a.dtype);
  s->sendBytes = readsSend(a, comm_.rank()) ? sendElements(a, comm_.nranks()) * esz : 0;
  s->recvBytes = writesRecv(a, comm_.rank()) ? recvElements(a, comm_.nranks()) * esz : 0;
  s->stageSend = s->sendBytes > 0 && onGpu(call->sendMem);
  s->stageRecv = s->recvBytes > 0 && onGpu(call->recvMem);
  s->userSend = call->send;
  s->userRecv = call->recv;
  if (s->stageSend || s->stageRecv) addStream(call->stream);
  const auto sendAt = reinterpret_cast<uintptr_t>(call->send);
  const auto recvAt = reinterpret_cast<uintptr_t>(call->recv);
  const bool overlap = s->stageSend && s->stageRecv && sendAt < recvAt + s->recvBytes && recvAt < sendAt + s->sendBytes;
  if (overlap) {
    // In place: one staging buffer for the union, so the engine sees the same layout as on the device.
    const uintptr_t base = std::min(sendAt, recvAt);
    const uintptr_t end = std::max(sendAt + s->sendBytes, recvAt + s->recvBytes);
    char* staged = nullptr;
    MIXCCL_TRY(take(end - base, &staged));
    call->send = staged + (sendAt - base);
    call->recv = staged + (recvAt - base);
  } else {
    char* staged = nullptr;
    if (s->stageSend) {
      MIXCCL_TRY(take(s->sendBytes, &staged));
      call->send = staged;
    }
    if (s->stageRecv) {
      MIXCCL_TRY(take(s->recvBytes, &staged));
      call->recv = staged;
    }
  }
  if (s->stageSend && copyInputs) {
    MIXCCL_TRY(gpu->copyAsync(const_cast<void*>(call->send), s->userSend, s->sendBytes, call->stream));
  }
  if (call->scale && onGpu(call->scalarMem)) {
    // A device-resident pre-mul-sum scalar is read when the stream reaches the call, like the data.
    char* staged = nullptr;
    MIXCCL_TRY(take(esz, &staged));
    MIXCCL_TRY(gpu->copyAsync(staged, call->scale->pointer, esz, call->stream));
    call->scale->pointer = staged;
    addStream(call->stream);
  }
  return mixcclSuccess;
}

Result Launch::recordEvent(GpuBackend* gpu, void* stream, void** out) {
  void* e = nullptr;
  MIXCCL_TRY(pool_.acquireEvent(&e));
  events_.push_back(e);
  MIXCCL_TRY(gpu->eventRecord(e, stream));
  *out = e;
  return mixcclSuccess;
}

Result Launch::recordDone(GpuBackend* gpu, void* stream) {
  void* e = nullptr;
  MIXCCL_TRY(recordEvent(gpu, stream, &e));
  doneEvents_.push_back(e);
  return mixcclSuccess;
}

Result Launch::serverStream(GpuBackend* gpu, void** out) {
  *out = deviceStreams_.empty() ? nullptr : deviceStreams_.front();
  for (size_t i = 1; i < deviceStreams_.size(); ++i) {
    void* reached = nullptr;
    MIXCCL_TRY(recordEvent(gpu, deviceStreams_[i], &reached));
    MIXCCL_TRY(gpu->streamWaitEvent(*out, reached));
  }
  return mixcclSuccess;
}

Result Launch::recordInputEvents(GpuBackend* gpu, std::vector<void*>* events) {
  for (void* stream : inputStreams_) {
    void* e = nullptr;
    MIXCCL_TRY(recordEvent(gpu, stream, &e));
    events->push_back(e);
  }
  return mixcclSuccess;
}

Result Launch::copyOutputs(GpuBackend* gpu, const std::vector<CollCall>& calls,
                           const std::vector<StagedCall>& staged, const uint32_t* flag, uint32_t ticket) {
  for (void* stream : streams_) {
    MIXCCL_TRY(gpu->streamWaitFlag(stream, flag, ticket));
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].stream != stream || !staged[i].stageRecv) continue;
      MIXCCL_TRY(gpu->copyAsync(staged[i].userRecv, calls[i].recv, staged[i].recvBytes, stream));
    }
    MIXCCL_TRY(recordDone(gpu, stream));
  }
  return mixcclSuccess;
}

void Launch::release(bool enqueued) {
  pool_.releaseAfter(std::move(buffers_), std::move(events_), enqueued ? std::move(doneEvents_) : std::vector<void*>{});
}

// What the user's thread set up on the GPU for a job's device-step calls (core/device_steps.h).
struct StepJob {
  bool used = false;
  uint32_t id = 0;  // the server's job id
  int arena = -1;   // its scratch
};

// The host side of a staged job, on the proxy thread: scale deferred pre-mul-sum inputs, then run the calls (those
// with device steps through the job's step server, the shared collectives through the segment; this thread makes no
// GPU call).
Result runStagedJob(Communicator& comm, StagedRuntime& rt, std::vector<CollCall>& calls, Result inputs,
                    const StepJob& steps) {
  Result res = inputs;
  if (steps.used) rt.deviceSteps()->beginJob(steps.id, steps.arena);
  for (CollCall& c : calls) {
    if (res != mixcclSuccess || !c.scale) continue;
    res = scaleInput(*c.scale, c.send, sendElements(c.args, comm.nranks()), &c.owned);
    c.send = c.owned.get();
    c.args.op = mixcclSum;
  }
  if (res == mixcclSuccess) res = runHostCalls(calls);
  // Said before the server is ended, which may wait for a stream that has not reached the call yet.
  if (res != mixcclSuccess) {
    comm.setAsyncError(res);
    failSharedPieces(comm, calls);  // the others would wait for its pieces
  }
  if (steps.used) {
    // Also after a failure: the server must have run what was queued, and left, before the user's stream goes on.
    const Result ended = rt.deviceSteps()->endJob();
    if (res == mixcclSuccess && ended != mixcclSuccess) {
      res = ended;
      comm.setAsyncError(res);
    }
  }
  return res;
}

// A whole-staged call that core/pieces.h cuts, as one job per piece, so that the stream's copy of piece k+1 in,
// the proxy's run of piece k and the copy of piece k-1 back overlap (every rank cuts the call alike; the jobs run
// in order).
Result enqueueStagedPieces(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, const CollCall& call,
                           uint64_t piece) {
  Launch launch(c, rt->pool());
  CollCall whole = call;
  StagedCall staged;
  Result res = launch.stageInputs(gpu, &whole, &staged, /*copyInputs=*/false);
  const size_t esz = dataTypeSize(call.args.dtype);
  const uint64_t count = call.args.count;
  auto at = [esz](const void* p, uint64_t off) -> char* {
    return p == nullptr ? nullptr : const_cast<char*>(static_cast<const char*>(p)) + off * esz;
  };
  std::vector<uint32_t> tickets;
  for (uint64_t off = 0; off < count && res == mixcclSuccess; off += piece) {
    const uint64_t n = std::min(piece, count - off);
    if (staged.stageSend) res = gpu->copyAsync(at(whole.send, off), at(staged.userSend, off), n * esz, call.stream);
    StreamProxy::Job job;
    void* ready = nullptr;
    if (res == mixcclSuccess) res = launch.recordEvent(gpu, call.stream, &ready);
    if (res != mixcclSuccess) break;
    job.inputsReady.push_back(ready);
    job.bytes = n * esz;
    CollCall sub = whole;
    sub.args.count = n;
    sub.send = at(whole.send, off);
    sub.recv = at(whole.recv, off);
    auto one = std::make_shared<std::vector<CollCall>>(1, sub);
    job.run = [&c, rt, one](Result inputs, const std::atomic<bool>&) {
      return runStagedJob(c, *rt, *one, inputs, StepJob{});
    };
    tickets.emplace_back();
    rt->proxy().submit(std::move(job), &tickets.back());
  }
  // The stream waits for each piece's job (every job advances the flag, a failed one too), then copies it back.
  uint64_t off = 0;
  for (size_t k = 0; k < tickets.size() && res == mixcclSuccess; ++k, off += piece) {
    res = gpu->streamWaitFlag(call.stream, rt->proxy().flag(), tickets[k]);
    if (res == mixcclSuccess && staged.stageRecv) {
      res = gpu->copyAsync(at(staged.userRecv, off), at(whole.recv, off), std::min(piece, count - off) * esz,
                           call.stream);
    }
  }
  if (res == mixcclSuccess) res = launch.recordDone(gpu, call.stream);
  if (res != mixcclSuccess) {
    // The pieces handed to the proxy use the staging memory until they have run.
    if (!tickets.empty()) rt->proxy().drain();
    launch.release(false);
    if (!tickets.empty()) c.setAsyncError(res);
    return res;
  }
  launch.release(true);
  return mixcclSuccess;
}

// For a job with device-step calls: reserves the device scratch their plans need and launches the job's step server
// on `stream` (Launch::serverStream).
Result launchSteps(Communicator& c, StagedRuntime* rt, const std::vector<CollCall>& calls, void* stream,
                   StepJob* out) {
  constexpr size_t kAlign = 256;  // DeviceSteps::scratch's
  size_t bytes = 0;
  for (const CollCall& call : calls) {
    if (call.deviceSteps == nullptr) continue;
    out->used = true;
    if (call.args.type == CollType::kSend || call.args.type == CollType::kRecv) continue;  // no scratch
    MIXCCL_TRY(forEachPiece(call.args, c.pieceBytes(), call.send, call.recv,
                            [&](const CollArgs& a, const void*, void*) -> Result {
                              size_t need = 0;
                              MIXCCL_TRY(c.scratchBytes(a, &need));
                              bytes += (need + kAlign - 1) / kAlign * kAlign;
                              return mixcclSuccess;
                            }));
  }
  if (!out->used) return mixcclSuccess;
  DeviceSteps* steps = rt->deviceSteps();
  MIXCCL_TRY(steps->reserve(bytes, &out->arena));
  Result res = steps->launch(stream, &out->id);
  if (res != mixcclSuccess) steps->unreserve(out->arena);
  return res;
}

// Stages `calls` on their streams, hands the job to the proxy and queues the copies back (see the header).
Result enqueueStaged(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, std::vector<CollCall>& calls) {
  if (calls.size() == 1 && viaShared(c, calls[0]) && needsStaging(calls[0])) {
    return enqueueShared(c, rt, gpu, calls[0]);
  }
  if (calls.size() == 1 && calls[0].deviceSteps == nullptr && !calls[0].scale && needsStaging(calls[0])) {
    const uint64_t piece = pieceElements(calls[0].args, c.pieceBytes());
    if (piece > 0) return enqueueStagedPieces(c, rt, gpu, calls[0], piece);
  }
  Launch launch(c, rt->pool());
  std::vector<StagedCall> staged(calls.size());
  StreamProxy::Job job;
  Result res = mixcclSuccess;
  for (size_t i = 0; i < calls.size() && res == mixcclSuccess; ++i) {
    if (calls[i].deviceSteps != nullptr) {
      launch.runsOnDevice(calls[i]);
    } else if (needsStaging(calls[i])) {
      res = launch.stageInputs(gpu, &calls[i], &staged[i]);
    }
  }
  if (res == mixcclSuccess) res = launch.recordInputEvents(gpu, &job.inputsReady);
  void* serverStream = nullptr;
  if (res == mixcclSuccess) res = launch.serverStream(gpu, &serverStream);
  StepJob steps;
  if (res == mixcclSuccess) res = launchSteps(c, rt, calls, serverStream, &steps);
  if (res != mixcclSuccess) {
    launch.release(false);
    return res;
  }
  const bool hostOnly = !launch.anyStream();
  job.keepResult = hostOnly;
  for (const CollCall& call : calls) job.bytes += recvElements(call.args, c.nranks()) * dataTypeSize(call.args.dtype);
  const bool shared = reserveSharedPieces(c, calls);
  auto own = std::make_shared<std::vector<CollCall>>(calls);
  job.run = [&c, rt, own, steps](Result inputs, const std::atomic<bool>&) {
    return runStagedJob(c, *rt, *own, inputs, steps);
  };
  uint32_t ticket = 0;
  const uint64_t place = rt->proxy().submit(std::move(job), &ticket);
  if (shared) noteSharedUse(c, calls, ticket, place);
  if (hostOnly) {
    launch.release(false);
    res = rt->proxy().waitFor(ticket);
    // Logged on the proxy thread; the caller's thread reports it too.
    if (res != mixcclSuccess) setLastErrorMessage(c.asyncErrorMessage());
    return res;
  }
  res = launch.copyOutputs(gpu, calls, staged, rt->proxy().flag(), ticket);
  launch.release(res == mixcclSuccess);
  if (res != mixcclSuccess) c.setAsyncError(res);
  return res;
}

}  // namespace

bool needsStaging(const CollCall& call) {
  return onGpu(call.sendMem) || onGpu(call.recvMem) || (call.scale && onGpu(call.scalarMem));
}

bool viaSingleRankCopy(const CollCall& call) {
  return call.comm->impl->nranks() == 1 && static_cast<int>(call.args.type) < kNumCollTypes && onGpu(call.sendMem) &&
         onGpu(call.recvMem) && call.sendMem == call.recvMem && !call.scale && call.owned == nullptr;
}

Result launchSingleRankCopy(const CollCall& call) {
  Communicator& c = *call.comm->impl;
  GpuBackend* gpu = gpuBackend(call.sendMem);
  DeviceScope scope(gpu, call.device);
  Result res = scope.status();
  const size_t bytes = recvElements(call.args, 1) * dataTypeSize(call.args.dtype);
  if (res == mixcclSuccess) res = gpu->copyAsync(call.recv, call.send, bytes, call.stream);
  if (res != mixcclSuccess) c.setAsyncError(res);
  return res;
}

bool viaGpuIpc(const CollCall& call) {
  return call.comm->impl->gpuIpc() != nullptr && static_cast<int>(call.args.type) < kNumCollTypes && !call.scale &&
         call.owned == nullptr;
}

Result launchThroughGpuIpc(const CollCall& call) {
  Communicator& c = *call.comm->impl;
  const CollArgs& a = call.args;
  ReduceSpec spec{a.dtype, a.op == mixcclAvg ? mixcclSum : a.op, 0};
  if (a.op == mixcclAvg && c.nranks() > 1) spec.divisor = uint32_t(c.nranks());
  // Only the buffers this rank uses count (a broadcast's non-roots read no input, a reduce's write no output).
  const bool sendOnGpu = readsSend(a, c.rank()) && onGpu(call.sendMem);
  const bool recvOnGpu = writesRecv(a, c.rank()) && onGpu(call.recvMem);
  const bool hostOnly = !sendOnGpu && !recvOnGpu;
  // A peer's abort released this rank's waits on it: its rounds would run on whatever the peer left.
  const int culprit = c.peerAbortCulprit();
  if (culprit >= 0) {
    Result lost = failf(mixcclRemoteError, "rank %d: %s through gpu_ipc: rank %d aborted the communicator or was lost",
                        c.rank(), collName(a.type), culprit);
    c.setAsyncError(lost);
    return lost;
  }
  DeviceScope scope(hostOnly ? nullptr : gpuBackend(sendOnGpu ? call.sendMem : call.recvMem), call.device);
  Result res = scope.status();
  if (res == mixcclSuccess) res = c.gpuIpc()->run(a, call.send, call.recv, spec, call.stream, !sendOnGpu, !recvOnGpu);
  if (res != mixcclSuccess) c.setAsyncError(res);
  return res;
}

Result StagedRuntime::create(GpuBackend* gpu, double timeoutSec, std::unique_ptr<StagedRuntime>* out) {
  std::unique_ptr<StagedRuntime> rt(new StagedRuntime());
  rt->gpu_ = gpu;
  rt->timeoutSec_ = timeoutSec;
  void* flag = nullptr;
  MIXCCL_TRY(gpu->allocPinned(sizeof(uint32_t), &flag));
  rt->flag_ = static_cast<uint32_t*>(flag);
  rt->pool_ = std::make_unique<StagingPool>(gpu, size_t(configInt(cfg::kStagingMaxBytes)));
  rt->proxy_ = std::make_unique<StreamProxy>(gpu, rt->flag_, timeoutSec);
  *out = std::move(rt);
  return mixcclSuccess;
}

StagedRuntime::~StagedRuntime() { finish(); }

bool StagedRuntime::finish() {
  if (finished_) return idle_;
  finished_ = true;
  proxy_.reset();  // runs (or, after cancel(), fails) what is queued: every flag is advanced
  if (steps_ != nullptr) {
    DeviceScope scope(gpu_, stepsDevice_);
    steps_.reset();
  }
  idle_ = pool_->waitIdle(kTeardownWaitSec);
  pool_.reset();
  if (idle_) freeGpuMemory(gpu_, GpuFreeKind::kPinned, flag_);  // else a stream may still poll it
  return idle_;
}

void StagedRuntime::cancel() { proxy_->cancel(); }

void StagedRuntime::initDeviceSteps(Communicator& comm) {
  if (stepsDecided_) return;
  stepsDecided_ = true;
  const bool timeSliced = comm.gpuTimeSliced();
  if (!deviceStepsWanted(comm.hasRemotePeers(), timeSliced)) return;
  if (timeSliced) {
    MIXCCL_LOG(kWarn, "rank %d: MIXCCL_DEVICE_STEPS=1 on a GPU that other processes of the communicator share without "
               "MPS: every step waits for a context switch (slower than staging through the CPU)", comm.rank());
  }
  std::string why;
  {
    // At a rank's first staged call: other ranks' streams may wait for this thread's next call, so what a failed
    // creation frees goes to the background thread, which frees it once the device has drained
    // (device/deferred_free.h).
    DeferGpuFrees inBackground;
    DeviceSteps::create(gpu_, comm.transportsInUse(), timeoutSec_, &steps_, &why);
  }
  if (steps_ == nullptr) {
    // Asked for explicitly (MIXCCL_DEVICE_STEPS=1), not getting them is worth a warning.
    if (configString(cfg::kDeviceSteps) == "1") {
      MIXCCL_LOG(kWarn, "rank %d: MIXCCL_DEVICE_STEPS=1, but GPU buffers are staged through host memory and reduced "
                 "by the CPU: %s", comm.rank(), why.c_str());
    } else {
      MIXCCL_LOG(kInfo, "rank %d: GPU buffers are staged through host memory and reduced by the CPU: %s", comm.rank(),
                 why.c_str());
    }
    return;
  }
  gpu_->currentDevice(&stepsDevice_);
  MIXCCL_LOG(kInfo, "rank %d: staged calls on GPU buffers reduce on the GPU, straight out of the transports' slots",
             comm.rank());
}

void StagedRuntime::drain() { proxy_->drain(); }

namespace {

// launchThroughProxy, but for marking the shared segment failed.
Result launchStaged(Communicator& c, std::vector<CollCall>& calls) {
  GpuBackend* gpu = nullptr;
  for (const CollCall& call : calls) {
    for (MemoryType t : {call.sendMem, call.recvMem, call.scale ? call.scalarMem : MemoryType::kHost}) {
      if (!onGpu(t)) continue;
      GpuBackend* g = gpuBackend(t);
      if (gpu != nullptr && g != gpu) {
        return failf(mixcclInvalidUsage, "rank %d: one call or group mixes %s and %s buffers on one communicator",
                     c.rank(), gpu->name(), g->name());
      }
      gpu = g;
    }
  }
  StagedRuntime* rt = c.stagedRuntime();
  if (rt == nullptr) {
    if (gpu == nullptr) return failf(mixcclInternalError, "rank %d: no staging runtime for host calls", c.rank());
    MIXCCL_TRY(c.createStagedRuntime(gpu, &rt));
  } else if (gpu != nullptr && gpu != rt->gpu()) {
    return failf(mixcclInvalidUsage, "rank %d: the communicator staged %s buffers before; it cannot take %s buffers "
                 "too", c.rank(), rt->gpu()->name(), gpu->name());
  }
  int device = -1;
  for (const CollCall& call : calls) device = std::max(device, call.device);
  DeviceScope scope(rt->gpu(), device);
  MIXCCL_TRY(scope.status());
  // A no-op after the first call on this device; not for host buffers alone (on a thread whose current device is
  // another, it would make a context there).
  if (gpu != nullptr) MIXCCL_TRY(rt->gpu()->loadKernels(/*onlyIfStarted=*/false));
  if (device >= 0) rt->initDeviceSteps(c);
  for (CollCall& call : calls) {
    // The shared collectives meet in their segment on every rank, whatever its device steps.
    const bool fits = !viaShared(c, call) && rt->deviceSteps() != nullptr &&
                      deviceStepsFit(call, rt->stepsDevice());
    call.deviceSteps = fits ? rt->deviceSteps() : nullptr;
  }
  return enqueueStaged(c, rt, rt->gpu(), calls);
}

}  // namespace

Result launchThroughProxy(mixcclComm* comm, std::vector<CollCall> calls) {
  Communicator& c = *comm->impl;
  const bool shared =
      std::any_of(calls.begin(), calls.end(), [&](const CollCall& call) { return viaShared(c, call); });
  const Result res = launchStaged(c, calls);
  // A call this rank did not hand over, or whose pieces it will not run: the others would wait for them.
  if (res != mixcclSuccess && shared) c.sharedReduce()->fail();
  return res;
}

}  // namespace mixccl

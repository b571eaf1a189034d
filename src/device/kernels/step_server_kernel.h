#pragma once
// The step server (protocol: step_queue.h): one kernel per job, launched on a stream, that runs the arithmetic
// commands a host thread writes into a StepQueue, in order, with the whole grid. Element for element the same
// arithmetic as reduceKernel (reduceElement), so results match the CPU bit for bit.
#include "device/kernels/gpu_portability.h"
#include "device/kernels/reduce_kernels.h"
#include "device/kernels/reduce_ops.h"
#include "device/kernels/step_queue.h"
#if !MIXCCL_GPU_DEVICE_CODE
#include "device/kernels/host_step_check.h"
#endif

namespace mixccl::kernels::MIXCCL_GPU_NS {

// dst[i] = a[i] op b[i] (divided if kDiv), over the grid.
template <typename C, typename Op, bool kDiv>
MIXCCL_DEVICE_INLINE void stepElements(const StepCommand& c) {
  using S = typename C::Store;
  S* dst = reinterpret_cast<S*>(c.dst);
  const S* a = reinterpret_cast<const S*>(c.a);
  const S* b = reinterpret_cast<const S*>(c.b);
  for (size_t i = gpuThreadIndex(); i < c.count; i += gpuThreadCount()) {
    dst[i] = reduceElement<C, Op, kDiv>(a[i], b[i], c.divisor);
  }
}

template <typename C, typename Op>
MIXCCL_DEVICE_INLINE void stepOp(const StepCommand& c) {
  if (c.divisor > 1) {
    stepElements<C, Op, true>(c);
  } else {
    stepElements<C, Op, false>(c);
  }
}

// count bytes from a to dst, over the grid: 16-byte packs where both and the length allow.
MIXCCL_DEVICE_INLINE void stepCopy(uint64_t dstAt, uint64_t srcAt, uint64_t bytes) {
  if (((dstAt | srcAt | bytes) % kPackBytes) == 0) {
    using P = Pack<uint8_t>;
    P* d = reinterpret_cast<P*>(dstAt);
    const P* s = reinterpret_cast<const P*>(srcAt);
    for (size_t i = gpuThreadIndex(); i < bytes / kPackBytes; i += gpuThreadCount()) storePack(d + i, loadPack(s + i));
    return;
  }
  auto* d = reinterpret_cast<uint8_t*>(dstAt);
  const auto* s = reinterpret_cast<const uint8_t*>(srcAt);
  for (size_t i = gpuThreadIndex(); i < bytes; i += gpuThreadCount()) d[i] = s[i];
}

template <typename C>
MIXCCL_DEVICE_INLINE void stepTyped(const StepCommand& c) {
  if (c.kind == kStepPostOp) {
    // dst = a divided (a copy without a divisor), as launchPostOp.
    if (c.divisor > 1) {
      StepCommand same = c;
      same.b = c.a;
      stepElements<C, KeepOp, true>(same);
    } else {
      stepCopy(c.dst, c.a, c.count * sizeof(typename C::Store));
    }
    return;
  }
  switch (c.op) {
    case mixcclSum: stepOp<C, SumOp>(c); break;
    case mixcclProd: stepOp<C, ProdOp>(c); break;
    case mixcclMax: stepOp<C, MaxOp>(c); break;
    case mixcclMin: stepOp<C, MinOp>(c); break;
    default: break;  // validated by the host before it was queued
  }
}

MIXCCL_DEVICE_INLINE void runStep(const StepCommand& c) {
  if (c.kind == kStepCopy) {
    stepCopy(c.dst, c.a, c.count);
    return;
  }
  switch (c.dtype) {
    case mixcclInt8: stepTyped<NativeCodec<int8_t>>(c); break;
    case mixcclUint8: stepTyped<NativeCodec<uint8_t>>(c); break;
    case mixcclInt32: stepTyped<NativeCodec<int32_t>>(c); break;
    case mixcclUint32: stepTyped<NativeCodec<uint32_t>>(c); break;
    case mixcclInt64: stepTyped<NativeCodec<int64_t>>(c); break;
    case mixcclUint64: stepTyped<NativeCodec<uint64_t>>(c); break;
    case mixcclFloat16: stepTyped<HalfCodec>(c); break;
    case mixcclFloat32: stepTyped<NativeCodec<float>>(c); break;
    case mixcclFloat64: stepTyped<NativeCodec<double>>(c); break;
    case mixcclBfloat16: stepTyped<Bf16Codec>(c); break;
    case mixcclFloat8e4m3: stepTyped<Fp8e4m3Codec>(c); break;
    case mixcclFloat8e5m2: stepTyped<Fp8e5m2Codec>(c); break;
    default: break;
  }
}

// The fields of a command the host has published (its seq seen), read fresh from pinned memory.
MIXCCL_DEVICE_INLINE void loadCommand(const StepCommand* from, StepCommand* to) {
  const volatile StepCommand* v = from;
  to->dst = v->dst;
  to->a = v->a;
  to->b = v->b;
  to->count = v->count;
  to->kind = v->kind;
  to->dtype = v->dtype;
  to->op = v->op;
  to->divisor = v->divisor;
  to->seq = v->seq;
}

// Every block on its way out: the last one says the kernel is gone (step_queue.h, "Exit").
MIXCCL_DEVICE_INLINE void leaveStepServer(StepQueue* q, uint64_t* counter, uint32_t ticket) {
  if (!gpuIsBlockLeader()) return;
  gpuFenceSystem();
  if (gpuAtomicAdd64(counter + 1 + ticket % kStepExitSlots, 1) + 1 == gpuBlockCount()) {
    gpuStoreVolatile(&q->exited[ticket % kStepExitSlots], ticket);
  }
}

MIXCCL_KERNEL stepServerKernel(StepQueue* q, uint64_t* counter, uint32_t ticket) {
  MIXCCL_BLOCK_SHARED StepCommand cmd;
  MIXCCL_BLOCK_SHARED uint32_t stop;
  MIXCCL_BLOCK_SHARED uint32_t base;
  MIXCCL_BLOCK_SHARED uint64_t counterBase;
  if (gpuIsBlockLeader()) {
    stop = 1;
    for (;;) {
      const uint32_t job = gpuLoadVolatile(&q->job);
      if (job == ticket) {
        stop = 0;
        break;
      }
      if (static_cast<int32_t>(job - ticket) > 0) break;  // the host gave this job up
      gpuPause();
    }
    gpuFenceSystem();
    base = gpuLoadVolatile(&q->base);
    counterBase = gpuLoadVolatile64(&q->counterBase);
  }
  gpuBlockSync();
  const bool run = stop == 0;
  gpuBlockSync();  // every thread has read `stop` before the leader writes it again
  if (!run) {
    leaveStepServer(q, counter, ticket);
    return;
  }
  for (uint32_t k = 1;; ++k) {
    if (gpuIsBlockLeader()) {
      const uint32_t s = base + k;
      const StepCommand* slot = &q->ring[s % kStepRing];
      for (;;) {
        if (gpuLoadVolatile(&slot->seq) == s) {
          gpuFenceSystem();
          loadCommand(slot, &cmd);
          if (cmd.kind == kStepExit) stop = 1;
          break;
        }
        if (gpuLoadVolatile(&q->job) != ticket) {
          stop = 1;
          break;
        }
        gpuPause();
      }
    }
    gpuBlockSync();
    if (stop != 0) break;  // read by every thread before the next write, which follows two more syncs
#if MIXCCL_GPU_DEVICE_CODE
    runStep(cmd);
#else
    if (hostStepCheck.check == nullptr || hostStepCheck.check(hostStepCheck.context, cmd)) runStep(cmd);
#endif
    gpuBlockSync();
    if (gpuIsBlockLeader()) {
      // Every block's results are out before anyone reads them: the next command, or the host once done moves.
      gpuFenceSystem();
      gpuAtomicAdd64(counter, 1);
      const uint64_t target = (counterBase + k) * gpuBlockCount();
      while (gpuLoadVolatile64(counter) < target) gpuPause();
      if (gpuBlockIndex() == 0) gpuStoreVolatile(&q->done, base + k);
    }
    gpuBlockSync();
  }
  leaveStepServer(q, counter, ticket);
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

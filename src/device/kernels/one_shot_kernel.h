#pragma once
// The fused one-shot all-reduce (arguments and purpose: fused_args.h). One block per rank:
//   copy send -> slots[me];  arrive[me] = seq (after the copy, system-wide);
//   wait until arrive[r] >= seq for every rank r (wrap-around order);
//   recv = slots[0] op slots[1] op ... op slots[n-1]   (rank order, rounded after every step, as reduceNKernel);
//   gathered = seq.
// The wait is inside the kernel, so the ranks' kernels must be able to run at once: ranks of one process (one
// GPU context) whose blocks fit the GPU together. The slots' reuse rule is gpu_ipc's (gpu_ipc.h): a rank arrives at
// round seq + 1 only in a later kernel of its stream, after this one's reads.
#include "device/kernels/gpu_portability.h"
#include "device/kernels/fused_args.h"
#include "device/kernels/rank_flags.h"
#include "device/kernels/reduce_kernels.h"
#include "device/kernels/reduce_ops.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

template <typename C, typename Op, bool kDiv>
MIXCCL_KERNEL oneShotKernel(FusedArgs a, uint32_t divisor) {
  using S = typename C::Store;
  const S* send = static_cast<const S*>(a.send);
  S* mine = static_cast<S*>(a.slots[a.me]);
  const size_t stride = gpuThreadCount();
  for (size_t i = gpuThreadIndex(); i < a.count; i += stride) mine[i] = send[i];
  gpuBlockSync();
  if (gpuIsBlockLeader()) gpuStoreVolatile(a.arrive[a.me], a.seq);  // fenced: the copy is visible first
  waitFlags(a.arrive, a.n, a.seq, gpuThreadInBlock(), gpuBlockThreads());
  gpuBlockSync();
  gpuFenceSystem();  // the peers' slots are read after their flags were seen
  S* out = static_cast<S*>(a.recv);
  for (size_t i = gpuThreadIndex(); i < a.count; i += stride) {
    S acc = gpuLoadFresh(static_cast<const S*>(a.slots[0]) + i);
    for (int r = 1; r < a.n; ++r) {
      acc = reduceElement<C, Op, false>(acc, gpuLoadFresh(static_cast<const S*>(a.slots[r]) + i), 0);
    }
    if (kDiv) acc = reduceElement<C, KeepOp, true>(acc, acc, divisor);
    out[i] = acc;
  }
  gpuBlockSync();
  if (gpuIsBlockLeader() && a.gathered != nullptr) gpuStoreVolatile(a.gathered, a.seq);
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

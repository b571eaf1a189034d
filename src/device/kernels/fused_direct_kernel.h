#pragma once
// The fused direct all-reduce (arguments and purpose: fused_args.h): gpu_ipc's direct round (gpu_ipc.h) in ONE
// kernel per rank, with the waits inside it rather than on the stream. Every block of rank `me`'s kernel:
//   block 0 only: words[me] = (send, recv); arrive[me] = seq      (after the stream's earlier work, system-wide)
//   wait until arrive[r] >= seq for every rank r;  read every rank's addresses
//   for my shard: every rank's recv = send_0 op ... op send_{n-1}  (reduceShardToAll, as reduceToAllKernel)
//   count itself out in *blocksOut; the LAST block to do so zeroes it again, writes done[me] = seq, waits until
//   done[r] >= seq for every rank r (every rank's output is then whole), and writes gathered = seq.
// So the kernel ends only once this rank's output is complete, and the stream's later work sees it. A block waits
// for other ranks' kernels, so every rank's blocks must be resident at once, and a block that waits holds its
// multiprocessor's resources meanwhile: the launcher gives a rank at most 1 / n of the blocks the device holds and
// leaves at least one multiprocessor to other work (n ranks' blocks in all at most one fewer than the
// multiprocessors), so that a kernel queued before a rank's round, whatever resources its blocks need, can run and
// let that round start. The ranks must be threads of one process (one GPU context) whose streams each have a
// hardware queue of their own.
// Reuse: words[me] of this parity were last read in round seq - 2, whose readers all wrote their done before this
// rank's kernel of round seq - 1 saw it.
#include "device/kernels/fused_args.h"
#include "device/kernels/gpu_portability.h"
#include "device/kernels/rank_flags.h"
#include "device/kernels/reduce_kernels.h"
#include "device/kernels/reduce_ops.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

template <typename C, typename Op, bool kDiv>
MIXCCL_KERNEL fusedDirectKernel(FusedArgs a, uint32_t divisor) {
  if (gpuBlockIndex() == 0 && gpuIsBlockLeader()) {
    const uint64_t at[2] = {reinterpret_cast<uintptr_t>(a.send), reinterpret_cast<uintptr_t>(a.recv)};
    for (int w = 0; w < 4; ++w) a.words[a.me][w] = uint32_t(at[w / 2] >> (32 * (w % 2)));
    gpuStoreVolatile(a.arrive[a.me], a.seq);  // fenced: the addresses are visible first
  }
  waitFlags(a.arrive, a.n, a.seq, gpuThreadInBlock(), gpuBlockThreads());
  gpuBlockSync();
  if (gpuIsBlockLeader()) gpuFenceSystem();  // it reads the addresses, after flags its block's threads saw
  // Shards begin on 16-byte multiples (the last takes the rest), so each moves in packs where the buffers are aligned.
  const size_t unit = kPackBytes / sizeof(typename C::Store), units = a.count / unit;
  const size_t lo = units * size_t(a.me) / size_t(a.n) * unit;
  const size_t hi = a.me + 1 == a.n ? a.count : units * size_t(a.me + 1) / size_t(a.n) * unit;
  reduceShardToAll<C, Op, kDiv, true>(a.words, a.n, lo, hi - lo, divisor);
  gpuFenceSystem();  // this thread's outputs are visible before its block counts itself out
  gpuBlockSync();
  if (!gpuIsBlockLeader()) return;
  const uint64_t blocks = gpuBlockCount();
  if (gpuAtomicAdd64(a.blocksOut, 1) + 1 != blocks) return;
  gpuAtomicAdd64(a.blocksOut, uint64_t(0) - blocks);  // zero for the next round (a later kernel of this stream)
  gpuStoreVolatile(a.done[a.me], a.seq);
  waitFlags(a.done, a.n, a.seq, 0, 1);
  if (a.gathered != nullptr) gpuStoreVolatile(a.gathered, a.seq);
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

#pragma once
// The arguments of the fused all-reduce kernels: one kernel per rank and round for ranks that are threads of one
// process on one GPU (transports/gpu_ipc, MIXCCL_GPU_IPC_FUSED=1), which wait for each other INSIDE the kernel
// rather than on their streams, so a round costs one launch and no stream wait. Two kinds:
//   * one-shot (one_shot_kernel.h, small rounds): one block copies the rank's input into its slot, says so, waits
//     until every rank has, and reduces every rank's slot into its output;
//   * direct (fused_direct_kernel.h, larger rounds): the rank publishes its buffers' addresses, waits for every
//     rank's, reduces its shard of every rank's input into every rank's output with many blocks, says so, and its
//     last block waits until every rank has (every output is then whole).
// Plain data, passed by value as a kernel parameter.
#include <cstddef>
#include <cstdint>

namespace mixccl::kernels {

constexpr int kFusedMaxRanks = 16;
constexpr unsigned kFusedThreads = 512;  // threads per block

enum class FusedKind : uint32_t { kOneShot = 0, kDirect = 1 };

struct FusedArgs {
  FusedKind kind = FusedKind::kOneShot;
  const void* send = nullptr;  // this rank's input: `count` elements of device memory
  void* recv = nullptr;        // this rank's output: `count` elements of device memory (may be `send`)
  // One-shot: every rank's input slot of this round's parity (slots[me] receives this rank's input).
  void* slots[kFusedMaxRanks] = {};
  // Direct: every rank's four address words of this round's parity (send low, high, recv low, high); the kernel
  // writes this rank's own (words[me]) before its arrival.
  uint32_t* words[kFusedMaxRanks] = {};
  uint32_t* arrive[kFusedMaxRanks] = {};  // every rank's arrival flag of this parity
  uint32_t* done[kFusedMaxRanks] = {};    // direct: every rank's "my shard is written everywhere" flag
  uint32_t* gathered = nullptr;   // this rank's, of this parity: set to seq once its output is whole (null: not set)
  uint64_t* blocksOut = nullptr;  // direct: this rank's count of blocks done with the round (device memory, 0 between)
  uint32_t seq = 0;               // the round; flags at or past it (wrap-around order) count as set
  int n = 0;
  int me = 0;
  size_t count = 0;  // elements of the round (every rank's)
};

}  // namespace mixccl::kernels

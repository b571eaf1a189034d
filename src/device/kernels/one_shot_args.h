#pragma once
// The arguments of the fused one-shot all-reduce kernel (one_shot_kernel.h): one kernel per rank and call for
// ranks that are threads of one process on one GPU (transports/gpu_ipc, small calls), in which the rank's block
// copies its input into its slot, says so, waits until every rank has, and reduces every rank's slot into its
// output. Plain data, passed by value as a kernel parameter.
#include <cstddef>
#include <cstdint>

namespace mixccl::kernels {

constexpr int kOneShotMaxRanks = 16;
constexpr unsigned kOneShotThreads = 512;  // the kernel's one block

struct OneShotArgs {
  const void* send = nullptr;  // this rank's input: `count` elements of device memory
  void* recv = nullptr;        // this rank's output: `count` elements of device memory (may be `send`)
  // Every rank's input slot of this round's parity (slots[me] receives this rank's input) and arrival flag.
  void* slots[kOneShotMaxRanks] = {};
  uint32_t* arrive[kOneShotMaxRanks] = {};
  uint32_t* gathered = nullptr;  // this rank's, of this parity: set to seq once its output is written
  uint32_t seq = 0;              // the round; flags at or past it (wrap-around order) count as arrived
  int n = 0;
  int me = 0;
  size_t count = 0;
};

}  // namespace mixccl::kernels

#pragma once
// The element-wise kernels: reduce (dst = a op b, optionally divided), post-op (dst = src / divisor) and copy.
//
// Shape: 1-D grid, grid-stride loops, so any grid covers any count. Each call is split into a head, a body of
// 16-byte packs and a tail:
//   [0, head)                  elements before the first 16-byte boundary of dst, one per thread;
//   [head, head + packs*kPack) packs of 16 / sizeof(element) elements, one 16-byte load per operand per pack;
//   [head + packs*kPack, n)    the remaining elements, one per thread.
// The body is used only when dst, a and b sit at the same offset modulo 16 (then one head aligns all three);
// otherwise head = n and everything goes element by element. Each thread reads its inputs before it writes its
// output, so dst may alias a or b exactly.
#include "device/kernels/gpu_portability.h"
#include "device/kernels/reduce_ops.h"

namespace mixccl::kernels::MIXCCL_GPU_NS {

constexpr size_t kPackBytes = 16;

template <typename S>
struct alignas(kPackBytes) Pack {
  static constexpr size_t kCount = kPackBytes / sizeof(S);
  S v[kCount];
};

// How the elements of one call are split (see the top of this file). All counts in elements except packs.
struct Split {
  size_t head = 0;
  size_t packs = 0;
};

// The split for element size `elem` and the given pointers (b may be nullptr: not read).
inline Split splitFor(size_t n, size_t elem, const void* dst, const void* a, const void* b) {
  auto mis = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % kPackBytes; };
  size_t off = mis(dst);
  Split s;
  if (mis(a) != off || (b != nullptr && mis(b) != off) || off % elem != 0) {
    s.head = n;
    return s;
  }
  size_t head = off == 0 ? 0 : (kPackBytes - off) / elem;
  s.head = head < n ? head : n;
  s.packs = (n - s.head) / (kPackBytes / elem);
  return s;
}

template <typename C, typename Op, bool kDiv>
MIXCCL_KERNEL reduceKernel(typename C::Store* dst, const typename C::Store* a, const typename C::Store* b, size_t n,
                           Split split, uint32_t divisor) {
  using S = typename C::Store;
  using P = Pack<S>;
  const size_t first = gpuThreadIndex();
  const size_t stride = gpuThreadCount();
  for (size_t i = first; i < split.head; i += stride) dst[i] = reduceElement<C, Op, kDiv>(a[i], b[i], divisor);

  P* pd = reinterpret_cast<P*>(dst + split.head);
  const P* pa = reinterpret_cast<const P*>(a + split.head);
  const P* pb = reinterpret_cast<const P*>(b + split.head);
  for (size_t p = first; p < split.packs; p += stride) {
    P x = loadPack(pa + p);
    P y = loadPack(pb + p);
    P r;
    MIXCCL_UNROLL
    for (size_t k = 0; k < P::kCount; ++k) r.v[k] = reduceElement<C, Op, kDiv>(x.v[k], y.v[k], divisor);
    storePack(pd + p, r);
  }

  for (size_t i = split.head + split.packs * P::kCount + first; i < n; i += stride) {
    dst[i] = reduceElement<C, Op, kDiv>(a[i], b[i], divisor);
  }
}

// The inputs of reduceNKernel, passed by value (kernel parameters).
constexpr int kMaxReduceInputs = 16;
template <typename S>
struct ReduceInputs {
  const S* p[kMaxReduceInputs];
};

// dst[i] = in[0][i] op in[1][i] op ... op in[n-1][i], combined in that order and rounded to the type after every
// step (as a chain of two-input reduces would), then divided by `divisor` if kDiv. dst may alias an input.
template <typename C, typename Op, bool kDiv>
MIXCCL_KERNEL reduceNKernel(typename C::Store* dst, ReduceInputs<typename C::Store> in, int n, size_t count,
                            uint32_t divisor) {
  using S = typename C::Store;
  const size_t stride = gpuThreadCount();
  for (size_t i = gpuThreadIndex(); i < count; i += stride) {
    S acc = in.p[0][i];
    for (int r = 1; r < n; ++r) acc = reduceElement<C, Op, false>(acc, in.p[r][i], 0);
    if (kDiv) acc = reduceElement<C, KeepOp, true>(acc, acc, divisor);
    dst[i] = acc;
  }
}

// How many inputs' packs reduceShardToAll loads before it combines them.
constexpr int kLoadGroup = 4;

// Where the buffers of each rank of a direct round are (gpu_ipc, ranks of one process): per rank, four 32-bit
// words its stream wrote before the round (send address low, high; receive address low, high).
struct DirectTable {
  const uint32_t* words[kMaxReduceInputs];
};

template <typename S>
MIXCCL_DEVICE_INLINE S* directAddress(const uint32_t* words, int which) {
  const uint64_t lo = gpuLoadVolatile(words + 2 * which), hi = gpuLoadVolatile(words + 2 * which + 1);
  return reinterpret_cast<S*>(static_cast<uintptr_t>(lo | (hi << 32)));
}

// For i in [lo, lo + count): the rank-order reduction of every rank's send[i] (exactly as reduceNKernel), written
// to every rank's recv[i], over the grid; words[r] are rank r's four address words. Shards of different ranks never
// overlap, so in-place buffers are safe: element i of a rank's buffer is read and then written by the one thread
// that owns i. The 2n addresses are read once per block; where all of them (at lo) sit on 16-byte boundaries the
// shard moves in 16-byte packs, then a tail element-wise. Every thread of the grid calls it. kFresh: the inputs were
// written by kernels that may have run alongside this one (read past L1: loadPackFresh, gpuLoadFresh).
template <typename C, typename Op, bool kDiv, bool kFresh>
MIXCCL_DEVICE_INLINE void reduceShardToAll(const uint32_t* const* words, int n, size_t lo, size_t count,
                                           uint32_t divisor) {
  using S = typename C::Store;
  using P = Pack<S>;
  MIXCCL_BLOCK_SHARED const S* in[kMaxReduceInputs];
  MIXCCL_BLOCK_SHARED S* out[kMaxReduceInputs];
  MIXCCL_BLOCK_SHARED size_t packs;
  if (gpuIsBlockLeader()) {
    uintptr_t misaligned = 0;
    for (int r = 0; r < n; ++r) {
      in[r] = directAddress<const S>(words[r], 0) + lo;
      out[r] = directAddress<S>(words[r], 1) + lo;
      misaligned |= (reinterpret_cast<uintptr_t>(in[r]) | reinterpret_cast<uintptr_t>(out[r])) % kPackBytes;
    }
    packs = misaligned == 0 ? count / P::kCount : 0;
  }
  gpuBlockSync();
  auto load = [](const P* at) { return kFresh ? loadPackFresh(at) : loadPack(at); };
  const size_t stride = gpuThreadCount();
  for (size_t p = gpuThreadIndex(); p < packs; p += stride) {
    // The inputs in groups of kLoadGroup, each group's loads issued before any of them is used (several reads in
    // flight per thread), combined in rank order.
    P acc = load(reinterpret_cast<const P*>(in[0]) + p);
    for (int r0 = 1; r0 < n; r0 += kLoadGroup) {
      P x[kLoadGroup];
      MIXCCL_UNROLL
      for (int j = 0; j < kLoadGroup; ++j) {
        if (r0 + j < n) x[j] = load(reinterpret_cast<const P*>(in[r0 + j]) + p);
      }
      MIXCCL_UNROLL
      for (int j = 0; j < kLoadGroup; ++j) {
        if (r0 + j < n) {
          MIXCCL_UNROLL
          for (size_t k = 0; k < P::kCount; ++k) acc.v[k] = reduceElement<C, Op, false>(acc.v[k], x[j].v[k], 0);
        }
      }
    }
    if (kDiv) {
      MIXCCL_UNROLL
      for (size_t k = 0; k < P::kCount; ++k) acc.v[k] = reduceElement<C, KeepOp, true>(acc.v[k], acc.v[k], divisor);
    }
    for (int q = 0; q < n; ++q) storePack(reinterpret_cast<P*>(out[q]) + p, acc);
  }
  for (size_t i = packs * P::kCount + gpuThreadIndex(); i < count; i += stride) {
    S acc = kFresh ? gpuLoadFresh(in[0] + i) : in[0][i];
    for (int r = 1; r < n; ++r) acc = reduceElement<C, Op, false>(acc, kFresh ? gpuLoadFresh(in[r] + i) : in[r][i], 0);
    if (kDiv) acc = reduceElement<C, KeepOp, true>(acc, acc, divisor);
    for (int q = 0; q < n; ++q) out[q][i] = acc;
  }
}

// reduceShardToAll as a kernel of its own, once the stream has waited for every rank (gpu_ipc's direct rounds).
template <typename C, typename Op, bool kDiv>
MIXCCL_KERNEL reduceToAllKernel(DirectTable table, int n, size_t lo, size_t count, uint32_t divisor) {
  reduceShardToAll<C, Op, kDiv, false>(table.words, n, lo, count, divisor);
}

// Bytes, in 16-byte packs where dst and src share their offset modulo 16.
MIXCCL_KERNEL copyKernel(uint8_t* dst, const uint8_t* src, size_t n, Split split) {
  using P = Pack<uint8_t>;
  const size_t first = gpuThreadIndex();
  const size_t stride = gpuThreadCount();
  for (size_t i = first; i < split.head; i += stride) dst[i] = src[i];
  P* pd = reinterpret_cast<P*>(dst + split.head);
  const P* ps = reinterpret_cast<const P*>(src + split.head);
  for (size_t p = first; p < split.packs; p += stride) storePack(pd + p, loadPack(ps + p));
  for (size_t i = split.head + split.packs * P::kCount + first; i < n; i += stride) dst[i] = src[i];
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS

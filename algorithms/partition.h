#pragma once
// Pure index arithmetic shared by the algorithms: splitting a range into blocks and blocks into chunks.
#include <algorithm>
#include <cstdint>

namespace mixccl {

// [begin, begin + size) of block `b` when `total` elements are split into `nblocks` blocks whose sizes differ by
// at most one (the first total % nblocks blocks get the extra element).
struct Range {
  uint64_t begin = 0;
  uint64_t size = 0;
};

inline Range blockRange(uint64_t total, int nblocks, int b) {
  uint64_t base = total / nblocks;
  uint64_t extra = total % nblocks;
  uint64_t ub = static_cast<uint64_t>(b);
  return {ub * base + std::min<uint64_t>(ub, extra), base + (ub < extra ? 1 : 0)};
}

// Chunk k of a block of `size` elements cut into pieces of `chunk` elements; size 0 if the block has no chunk k.
inline Range chunkRange(uint64_t size, uint64_t chunk, uint64_t k) {
  uint64_t begin = k * chunk;
  if (begin >= size) return {begin, 0};
  return {begin, std::min(chunk, size - begin)};
}

inline uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// (a mod n) for possibly negative a.
inline int wrap(int64_t a, int n) { return static_cast<int>(((a % n) + n) % n); }

}  // namespace mixccl

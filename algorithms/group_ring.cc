// The phases follow ring.cc's schedule (see its narrative comment), with "rank r" read as "position pos in the
// group" and blocks taken from the region. Chunk k of every block is handled before chunk k+1.
#include "algorithms/group_ring.h"

namespace mixccl {

uint64_t GroupRing::maxChunks() const { return ceilDiv(ceilDiv(length, size()), chunk); }

// Receives blocks pos-1, pos-2, ..., pos-(g-1) (chunk k of each) and forwards all but the last.
void GroupRing::forwardChunk(uint64_t k, Plan* plan) const {
  const int g = size();
  for (int t = 0; t < g - 1; ++t) {
    Range b = block(wrap(pos - 1 - t, g));
    Range c = chunkRange(b.size, chunk, k);
    if (c.size == 0) continue;
    plan->emit(prev(), t < g - 2 ? next() : -1, {}, Slice{BufKind::kRecv, b.begin + c.begin}, c.size, false);
  }
}

void GroupRing::reduceScatter(BufKind input, bool final, bool thenAllGather, Plan* plan) const {
  const int g = size();
  if (g == 1) {
    // Nothing to combine; the block must still reach the receive buffer (and be made final).
    for (uint64_t k = 0, K = ceilDiv(length, chunk); k < K; ++k) {
      Range c = chunkRange(length, chunk, k);
      if (input == BufKind::kRecv && !final) continue;
      plan->emit(-1, -1, Slice{input, begin + c.begin}, Slice{BufKind::kRecv, begin + c.begin}, c.size, final);
    }
    return;
  }
  for (uint64_t k = 0, K = maxChunks(); k < K; ++k) {
    for (int j = 0; j < g; ++j) {
      Range b = block(wrap(pos - 1 - j, g));
      Range c = chunkRange(b.size, chunk, k);
      if (c.size == 0) continue;
      Slice own{input, b.begin + c.begin};
      if (j == 0) {
        plan->emit(-1, next(), own, {}, c.size, false);
      } else if (j < g - 1) {
        plan->emit(prev(), next(), own, {}, c.size, false);
      } else {
        plan->emit(prev(), thenAllGather ? next() : -1, own, Slice{BufKind::kRecv, b.begin + c.begin}, c.size, final);
      }
    }
    if (thenAllGather) forwardChunk(k, plan);
  }
}

void GroupRing::allGather(Plan* plan) const {
  if (size() == 1) return;
  for (uint64_t k = 0, K = maxChunks(); k < K; ++k) {
    Range b = block(pos);
    Range c = chunkRange(b.size, chunk, k);
    if (c.size > 0) plan->emit(-1, next(), Slice{BufKind::kRecv, b.begin + c.begin}, {}, c.size, false);
    forwardChunk(k, plan);
  }
}

}  // namespace mixccl

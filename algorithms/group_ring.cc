// The phases follow ring.cc's schedule (see its narrative comment), with "rank r" read as "position pos in the
// group" and blocks taken from the region. Chunk k of every block is handled before the next chunk index.
#include "algorithms/group_ring.h"

namespace mixccl {

uint64_t GroupRing::maxChunks() const { return ceilDiv(ceilDiv(length, size()), chunk); }

Step& GroupRing::put(Plan* plan, int recvPeer, int sendPeer, Slice src, Slice dst, uint64_t count, bool final,
                     uint8_t channel) const {
  if (tags != nullptr) tags->push_back(static_cast<uint8_t>(laneTag + (size() == 2 && recvPeer < 0 ? 0 : 1)));
  return plan->emit(recvPeer, sendPeer, src, dst, count, final, channel);
}

// Receives blocks pos-1, pos-2, ..., pos-(g-1) (chunk k of each) and forwards all but the last.
void GroupRing::forwardChunk(uint64_t k, Plan* plan) const {
  const int g = size();
  for (int t = 0; t < g - 1; ++t) {
    Range b = block(wrap(pos - 1 - t, g));
    Range c = chunkRange(b.size, chunk, k);
    if (c.size == 0) continue;
    put(plan, prev(), t < g - 2 ? next() : -1, {}, Slice{BufKind::kRecv, b.begin + c.begin}, c.size, false,
        agChannel);
  }
}

void GroupRing::reduceScatter(BufKind input, bool final, bool thenAllGather, Plan* plan) const {
  const int g = size();
  if (g == 1) {
    // Nothing to combine; the block must still reach the receive buffer (and be made final).
    for (uint64_t k = 0, K = ceilDiv(length, chunk); k < K; ++k) {
      Range c = chunkRange(length, chunk, k);
      if (input == BufKind::kRecv && !final) continue;
      put(plan, -1, -1, Slice{input, begin + c.begin}, Slice{BufKind::kRecv, begin + c.begin}, c.size, final, 0);
    }
    return;
  }
  // The final value goes on in the same step when the all-gather shares channel 0, else in a step of its own.
  const bool sameStep = thenAllGather && agChannel == 0;
  for (uint64_t i = 0, K = maxChunks(); i < K; ++i) {
    const uint64_t k = chunkAt(i);
    for (int j = 0; j < g; ++j) {
      Range b = block(wrap(pos - 1 - j, g));
      Range c = chunkRange(b.size, chunk, k);
      if (c.size == 0) continue;
      Slice own{input, b.begin + c.begin};
      if (j == 0) {
        put(plan, -1, next(), own, {}, c.size, false, 0);
      } else if (j < g - 1) {
        put(plan, prev(), next(), own, {}, c.size, false, 0);
      } else {
        Slice dst{BufKind::kRecv, b.begin + c.begin};
        put(plan, prev(), sameStep ? next() : -1, own, dst, c.size, final, 0);
        if (thenAllGather && !sameStep) put(plan, -1, next(), dst, {}, c.size, false, agChannel);
      }
    }
    if (thenAllGather) forwardChunk(k, plan);
  }
}

void GroupRing::allGather(Plan* plan) const {
  if (size() == 1) return;
  for (uint64_t i = 0, K = maxChunks(); i < K; ++i) {
    const uint64_t k = chunkAt(i);
    Range b = block(pos);
    Range c = chunkRange(b.size, chunk, k);
    if (c.size > 0) {
      put(plan, -1, next(), Slice{BufKind::kRecv, b.begin + c.begin}, {}, c.size, false, agChannel);
    }
    forwardChunk(k, plan);
  }
}

}  // namespace mixccl

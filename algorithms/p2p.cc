#include "algorithms/p2p.h"

#include "algorithms/partition.h"

namespace mixccl {

Plan pointToPointPlan(bool send, int peer, uint64_t count, uint64_t chunkElems) {
  Plan plan;
  if (chunkElems == 0) chunkElems = 1;
  for (uint64_t k = 0, K = ceilDiv(count, chunkElems); k < K; ++k) {
    Range c = chunkRange(count, chunkElems, k);
    Step s;
    s.count = c.size;
    s.channel = kPointToPointChannel;
    if (send) {
      s.src = Slice{BufKind::kSend, c.begin};
      s.sendPeer = peer;
    } else {
      s.dst = Slice{BufKind::kRecv, c.begin};
      s.recvPeer = peer;
    }
    plan.push(s);
  }
  plan.endLane();
  return plan;
}

}  // namespace mixccl

#pragma once
// The description of one collective call, independent of where its buffers live.
#include <cstdint>

#include "mixccl.h"

namespace mixccl {

// The collectives the algorithms plan (the first kNumCollTypes), then point-to-point operations, which are planned
// directly (algorithms/p2p.h) and never selected.
enum class CollType : uint8_t { kAllReduce, kAllGather, kReduceScatter, kBroadcast, kReduce, kSend, kRecv };
constexpr int kNumCollTypes = 5;

// "all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce".
const char* collName(CollType type);

struct CollArgs {
  CollType type = CollType::kAllReduce;
  // NCCL's count argument: all-reduce/broadcast/reduce: elements of each buffer; all-gather: elements each rank
  // sends; reduce-scatter: elements each rank receives.
  uint64_t count = 0;
  mixcclDataType_t dtype = mixcclFloat32;
  mixcclRedOp_t op = mixcclSum;  // ignored by all-gather and broadcast
  int root = 0;                  // broadcast and reduce only
};

// Whether rank `rank` reads its send buffer (a broadcast's non-roots do not; a receive has none) and writes its
// receive buffer (a reduce's non-roots do not; a send has none).
bool readsSend(const CollArgs& args, int rank);
bool writesRecv(const CollArgs& args, int rank);

// Elements in the send / receive buffer of one rank for a collective over `nranks` ranks.
uint64_t sendElements(const CollArgs& args, int nranks);
uint64_t recvElements(const CollArgs& args, int nranks);

}  // namespace mixccl

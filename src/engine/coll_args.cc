#include "engine/coll_args.h"

namespace mixccl {

const char* collName(CollType type) {
  switch (type) {
    case CollType::kAllReduce: return "all_reduce";
    case CollType::kAllGather: return "all_gather";
    case CollType::kReduceScatter: return "reduce_scatter";
    case CollType::kBroadcast: return "broadcast";
    case CollType::kReduce: return "reduce";
    case CollType::kSend: return "send";
    case CollType::kRecv: return "recv";
  }
  return "unknown";
}

bool readsSend(const CollArgs& args, int rank) {
  if (args.type == CollType::kSend || args.type == CollType::kRecv) return args.type == CollType::kSend;
  return args.type != CollType::kBroadcast || args.root == rank;
}

bool writesRecv(const CollArgs& args, int rank) {
  if (args.type == CollType::kSend || args.type == CollType::kRecv) return args.type == CollType::kRecv;
  return args.type != CollType::kReduce || args.root == rank;
}

uint64_t sendElements(const CollArgs& args, int nranks) {
  return args.type == CollType::kReduceScatter ? args.count * nranks : args.count;
}

uint64_t recvElements(const CollArgs& args, int nranks) {
  return args.type == CollType::kAllGather ? args.count * nranks : args.count;
}

}  // namespace mixccl

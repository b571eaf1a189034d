#include "core/shared_shape.h"

#include "core/datatype.h"

namespace mixccl {

uint64_t SharedShape::perBlock(const CollArgs& args, int nranks, uint64_t slotBytes) {
  const uint64_t elements = slotBytes / dataTypeSize(args.dtype);
  // An all-gather's output region and a reduce-scatter's input regions hold a block per rank.
  const bool blocks = args.type == CollType::kAllGather || args.type == CollType::kReduceScatter;
  return blocks ? elements / uint64_t(nranks) : elements;
}

bool SharedShape::fits(const CollArgs& args, int nranks, uint64_t slotBytes) {
  switch (args.type) {
    case CollType::kAllReduce:
    case CollType::kReduce:
    case CollType::kReduceScatter:
      if (!isValidRedOp(args.op)) return false;
      break;
    case CollType::kAllGather:
    case CollType::kBroadcast:
      break;
    default:
      return false;
  }
  return args.count > 0 && nranks > 0 && perBlock(args, nranks, slotBytes) > 0;
}

SharedShape::SharedShape(const CollArgs& args, int nranks, int rank, uint64_t slotBytes)
    : args_(args),
      nranks_(nranks),
      rank_(rank),
      per_(perBlock(args, nranks, slotBytes)),
      esz_(dataTypeSize(args.dtype)) {}

}  // namespace mixccl

#include "core/shared_shape.h"

#include "core/datatype.h"

namespace mixccl {

uint64_t SharedShape::perBlock(const CollArgs& args, int nranks, uint64_t slotBytes) {
  const uint64_t esz = dataTypeSize(args.dtype);
  // An all-gather's output region and a reduce-scatter's input regions hold a block per rank, each starting on a
  // cache line of its own (no two ranks write one line of the output).
  const bool blocks = args.type == CollType::kAllGather || args.type == CollType::kReduceScatter;
  return blocks ? slotBytes / uint64_t(nranks) / 64 * 64 / esz : slotBytes / esz;
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

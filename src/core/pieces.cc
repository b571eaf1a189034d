#include "core/pieces.h"

#include "core/datatype.h"

namespace mixccl {

uint64_t pieceElements(const CollArgs& args, int64_t pieceBytes) {
  if (args.type != CollType::kAllReduce && args.type != CollType::kBroadcast && args.type != CollType::kReduce) {
    return 0;  // all-gather and reduce-scatter pieces would be strided: not cut
  }
  const uint64_t esz = dataTypeSize(args.dtype);
  if (pieceBytes <= 0 || args.count * esz <= uint64_t(pieceBytes)) return 0;
  // Whole 4 KiB multiples, so that every piece starts aligned like the buffer.
  const uint64_t aligned = uint64_t(pieceBytes) / 4096 * 4096;
  const uint64_t elems = (aligned > 0 ? aligned : uint64_t(pieceBytes)) / esz;
  return elems > 0 ? elems : 1;
}

}  // namespace mixccl

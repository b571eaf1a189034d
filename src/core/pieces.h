#pragma once
// Large calls cut into consecutive pieces, so that a staged call pipelines (core/device_launch.h): the copy of
// piece k+1 to host memory, the host run of piece k and the copy back of piece k-1 overlap.
//
// MIXCCL_STAGED_PIECE_BYTES (0, the default: never cut) cuts every all-reduce, broadcast and reduce larger than it
// into pieces of at most that many bytes, each a collective of its own over the same element range on every rank.
// The cut depends only on the call's arguments and the setting, which a communicator reads at init and checks to
// be equal on every rank: every rank cuts alike whatever its memory (host ranks too), so the pieces meet. The results
// are those of the uncut call on every rank alike (each element is still reduced once and copied), though an element's
// operands may be combined in another order than without the cut.
#include <cstdint>

#include "core/datatype.h"
#include "core/status.h"
#include "engine/coll_args.h"

namespace mixccl {

// Elements per piece for `args` cut at `pieceBytes` (the communicator's MIXCCL_STAGED_PIECE_BYTES, read at init;
// <= 0: never), the last piece maybe shorter; 0 when the call is not cut.
uint64_t pieceElements(const CollArgs& args, int64_t pieceBytes);

// Calls fn(pieceArgs, pieceSend, pieceRecv) for each piece of the call, in order (once, with the call itself, when
// it is not cut), and stops at the first error. A null buffer (one the rank does not use) stays null.
template <typename Fn>
Result forEachPiece(const CollArgs& args, int64_t pieceBytes, const void* send, void* recv, Fn&& fn) {
  const uint64_t piece = pieceElements(args, pieceBytes);
  if (piece == 0) return fn(args, send, recv);
  const uint64_t esz = dataTypeSize(args.dtype);
  for (uint64_t off = 0; off < args.count; off += piece) {
    CollArgs a = args;
    a.count = args.count - off < piece ? args.count - off : piece;
    const void* s = send != nullptr ? static_cast<const char*>(send) + off * esz : nullptr;
    void* r = recv != nullptr ? static_cast<char*>(recv) + off * esz : nullptr;
    MIXCCL_TRY(fn(a, s, r));
  }
  return mixcclSuccess;
}

}  // namespace mixccl

#pragma once
// What a *_perf binary tells the shared harness about its collective. The harness owns everything else (sweep, timing,
// checking, printing); a binary's main() only fills a Collective and calls perfMain().
#include <cstddef>
#include <string>

#include "mixccl.h"

namespace mixccl::perf {

// Element counts of one call, for a sweep size of `count` elements (size / element size) on `nranks` ranks. Offsets are
// in elements, from the start of the single buffer the in-place variant uses.
struct CollCounts {
  size_t sendCount = 0;    // elements this rank sends
  size_t recvCount = 0;    // elements this rank receives
  size_t paramCount = 0;   // the count passed to the call (and printed in the "count" column)
  size_t sendInPlace = 0;  // in-place: where this rank's send data starts
  size_t recvInPlace = 0;  // in-place: where this rank's result starts
};

// The collective's call. `op` is ignored by collectives without a reduction, `root` by rootless ones. `stream` is
// nullptr for host buffers, the rank's stream for device buffers.
using CollCall = mixcclResult_t (*)(const void* send, void* recv, size_t paramCount, mixcclDataType_t dt,
                                    mixcclRedOp_t op, int root, mixcclComm_t comm, mixcclStream_t stream);

struct Collective {
  const char* name;      // the binary name, e.g. "all_reduce_perf"
  const char* callName;  // the API function, for error messages, e.g. "mixcclAllReduce"
  int exactColl;         // the collective's id in tests/support/exact_data.h (0 AR, 1
                         // AG, 2 RS, 3 BC, 4 reduce: only the root's receive buffer is checked)
  bool hasOp;            // prints and sweeps -o; otherwise redop prints "none"
  bool hasRoot;          // prints and sweeps -r; otherwise root prints -1
  CollCounts (*counts)(size_t count, size_t eltSize, int nranks, int rank);
  CollCall call;
  double (*busBwFactor)(int nranks);  // busbw = algbw * factor
};

// Count rules shared by the binaries (NCCL-TESTS-FORMAT.md, "Counts per collective"). All-reduce and broadcast: one
// buffer of `count` elements, send == recv in place.
CollCounts sameCounts(size_t count, size_t eltSize, int nranks, int rank);
// All-gather: count/n per rank, rounded down to a multiple of 16 bytes; send = recv + rank * sendcount in place.
CollCounts gatherCounts(size_t count, size_t eltSize, int nranks, int rank);
// Reduce-scatter: count/n per rank as above; recv = send + rank * recvcount in place.
CollCounts scatterCounts(size_t count, size_t eltSize, int nranks, int rank);

// The collectives of the *_perf binaries (collectives.cc), by binary name ("all_reduce_perf", ...): nullptr for
// an unknown name.
const Collective* findCollective(const std::string& name);

}  // namespace mixccl::perf

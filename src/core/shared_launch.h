#pragma once
// How calls reach the shared all-reduce segment (core/shared_reduce.h; MIXCCL_SHARED_REDUCE=1): the launch side of
// core/device_launch.h for the all-reduces that meet there.
//
// * A lone all-reduce with a buffer in device memory (enqueueSharedAllReduce): the stream copies each piece into the
//   rank's input slot and back out of the output slot, the proxy runs one job per piece that meets the other ranks.
// * Any other call list of the communicator (a group, host buffers, a mix): its all-reduces get their pieces
//   reserved when the job is submitted (reserveSharedPieces), and the job runs its calls in order on the staged
//   copies or host buffers (runCallsInOrder): each all-reduce through the segment, the others with the host engine
//   in batches between them.
// Piece numbers are taken on the thread that issues the calls, in issue order, so they agree on every rank however
// each rank's calls are grouped or where its buffers are.
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/group.h"
#include "core/status.h"

namespace mixccl {

class Communicator;
class GpuBackend;
class StagedRuntime;

// What a call that does not use the segment has in place of its first piece number.
constexpr uint64_t kNotShared = ~uint64_t(0);

// Whether `call` is an all-reduce of a communicator that uses the segment (the same answer on every rank).
bool viaSharedAllReduce(const Communicator& c, const CollCall& call);

// Enqueues `call` (such an all-reduce, with its send or receive buffer on `gpu`) on its stream piece by piece and
// hands one job per piece to the proxy of `rt`. On an error nothing more is enqueued, the segment is marked failed
// (the other ranks would wait for this rank's pieces) and the communicator's async error is set.
Result enqueueSharedAllReduce(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, const CollCall& call);

// For a job's calls: the first piece number of each all-reduce that uses the segment (reserved now), kNotShared
// for the others.
std::vector<uint64_t> reserveSharedPieces(Communicator& c, const std::vector<CollCall>& calls);
// Marks the segment failed when `shared` (reserveSharedPieces' answer) reserved anything: for a job that will not
// run its calls.
void failSharedPieces(Communicator& c, const std::vector<uint64_t>& shared);
// Runs `calls` (host memory, on the proxy thread) in order: those with a piece number in `shared` through the
// segment, the others with the host engine (core/group.h runHostCalls) in batches between them. `cancelled`: the
// proxy's abort flag. Returns the first error (already logged; the segment is then marked failed).
Result runCallsInOrder(Communicator& comm, std::vector<CollCall>& calls, const std::vector<uint64_t>& shared,
                       const std::atomic<bool>& cancelled);

}  // namespace mixccl

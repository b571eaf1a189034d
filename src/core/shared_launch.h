#pragma once
// How calls reach the shared segment (core/shared_reduce.h; MIXCCL_SHARED_REDUCE=1): the launch side of
// core/device_launch.h for the collectives that meet there (all-reduce, reduce-scatter, all-gather, broadcast, reduce).
//
// * A lone such collective with a buffer in device memory (enqueueShared): the stream copies each piece into the
//   rank's input slot and back out of the output slot, the proxy runs one job per piece that meets the other ranks.
// * Any other call list of the communicator (a group, host buffers, a mix): its shared collectives get their pieces
//   reserved when the job is submitted (reserveSharedPieces: CollCall::sharedPiece), and the job's host run
//   (core/group.h runHostCalls) runs each of them as an op of its own (SharedReduce::hostOp) in order among the
//   collectives, beside the point-to-point calls.
// Piece numbers are taken on the thread that issues the calls, in issue order, so they agree on every rank however
// each rank's calls are grouped or where its buffers are.
#include <cstdint>
#include <vector>

#include "core/group.h"
#include "core/status.h"

namespace mixccl {

class Communicator;
class GpuBackend;
class StagedRuntime;

// What a call that does not use the segment has in place of its first piece number (CollCall::sharedPiece).
constexpr uint64_t kNotShared = ~uint64_t(0);

// Whether `call` is a collective of a communicator that uses the segment, that fits it (SharedShape::fits), not a
// pre-mul-sum (the same answer on every rank).
bool viaShared(const Communicator& c, const CollCall& call);

// Enqueues `call` (such a collective, with its send or receive buffer on `gpu`) on its stream piece by piece and
// hands one job per piece to the proxy of `rt`. On an error nothing more is enqueued, the segment is marked failed
// (the other ranks would wait for this rank's pieces) and the communicator's async error is set.
Result enqueueShared(Communicator& c, StagedRuntime* rt, GpuBackend* gpu, const CollCall& call);

// Reserves the pieces of `call` if it uses the segment and has none yet (sets its sharedPiece); returns whether it
// uses the segment. reserveSharedPieces: the same for a job's calls, before it is submitted (whether any does).
bool reserveSharedPiece(Communicator& c, CollCall& call);
bool reserveSharedPieces(Communicator& c, std::vector<CollCall>& calls);
// After the job is submitted as `ticket` (its `place`: StreamProxy::submit): the slots its pieces used are free for a
// stream's copies once it has run.
void noteSharedUse(Communicator& c, const std::vector<CollCall>& calls, uint32_t ticket, uint64_t place);
// Marks the segment failed when any of `calls` has pieces reserved: for a job that will not run them all.
void failSharedPieces(Communicator& c, const std::vector<CollCall>& calls);

}  // namespace mixccl

// C API: collectives. Validation happens here, before anything is touched; a failed validation returns
// mixcclInvalidArgument / mixcclInvalidUsage with a message from mixcclGetLastError.
#include <cstdint>

#include "core/communicator.h"
#include "core/datatype.h"
#include "core/group.h"

using namespace mixccl;

namespace {

bool overlaps(const void* a, size_t aBytes, const void* b, size_t bBytes) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return aBytes != 0 && bBytes != 0 && pa < pb + bBytes && pb < pa + aBytes;
}

// Checks a call and, if it is valid, runs or defers it.
Result collective(const char* fn, mixcclComm* comm, CollArgs args, const void* send, void* recv) {
  clearLastError();
  if (comm == nullptr) return failf(mixcclInvalidArgument, "%s: comm is NULL", fn);
  if (comm->magic != mixcclComm::kMagic || !comm->impl) {
    return failf(mixcclInvalidArgument, "%s: comm is not a live communicator (destroyed or corrupted?)", fn);
  }
  Communicator& c = *comm->impl;
  if (c.finalized) return failf(mixcclInvalidUsage, "%s: the communicator was finalized", fn);
  if (c.asyncError() != mixcclSuccess) {
    return failf(c.asyncError(), "%s: the communicator failed earlier and cannot be used: %s", fn,
                 c.asyncErrorMessage().c_str());
  }
  if (!isValidDataType(args.dtype)) return failf(mixcclInvalidArgument, "%s: invalid datatype %d", fn, args.dtype);
  if (!isValidRedOp(args.op)) return failf(mixcclInvalidArgument, "%s: invalid reduction op %d", fn, args.op);
  if (args.type == CollType::kBroadcast && (args.root < 0 || args.root >= c.nranks())) {
    return failf(mixcclInvalidArgument, "%s: root %d is outside [0, %d)", fn, args.root, c.nranks());
  }
  const uint64_t esz = dataTypeSize(args.dtype);
  const uint64_t n = static_cast<uint64_t>(c.nranks());
  // The larger of the two buffers holds count * nranks elements for all-gather / reduce-scatter.
  const uint64_t perRank = args.type == CollType::kAllGather || args.type == CollType::kReduceScatter ? n : 1;
  if (args.count > SIZE_MAX / esz / perRank) {
    return failf(mixcclInvalidArgument, "%s: count %llu x %llu bytes x %llu overflows the address space", fn,
                 static_cast<unsigned long long>(args.count), static_cast<unsigned long long>(esz),
                 static_cast<unsigned long long>(perRank));
  }
  const size_t sendBytes = sendElements(args, c.nranks()) * esz;
  const size_t recvBytes = recvElements(args, c.nranks()) * esz;
  const bool needsSend = args.type != CollType::kBroadcast || args.root == c.rank();
  if (args.count > 0 && needsSend && send == nullptr) return failf(mixcclInvalidArgument, "%s: sendbuff is NULL", fn);
  if (args.count > 0 && recv == nullptr) return failf(mixcclInvalidArgument, "%s: recvbuff is NULL", fn);
  // In place means the exact layout of NCCL; any other overlap would silently corrupt the result.
  const char* inPlaceSend = static_cast<const char*>(recv);
  if (args.type == CollType::kAllGather) inPlaceSend += c.rank() * sendBytes;
  bool inPlace = send == inPlaceSend;
  if (args.type == CollType::kReduceScatter) inPlace = recv == static_cast<const char*>(send) + c.rank() * recvBytes;
  if (needsSend && !inPlace && overlaps(send, sendBytes, recv, recvBytes)) {
    return failf(mixcclInvalidArgument, "%s: sendbuff and recvbuff overlap without being in place", fn);
  }
  if (args.count == 0) return mixcclSuccess;
  CollCall call{comm, args, send, recv};
  return launchOrDefer(call);
}

}  // namespace

extern "C" {

mixcclResult_t mixcclAllReduce(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               mixcclRedOp_t op, mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclAllReduce", comm, {CollType::kAllReduce, count, datatype, op, 0}, sendbuff, recvbuff);
}

mixcclResult_t mixcclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, mixcclDataType_t datatype,
                               mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclAllGather", comm, {CollType::kAllGather, sendcount, datatype, mixcclSum, 0}, sendbuff,
                    recvbuff);
}

mixcclResult_t mixcclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   mixcclDataType_t datatype, mixcclRedOp_t op, mixcclComm_t comm,
                                   mixcclStream_t stream) {
  return collective("mixcclReduceScatter", comm, {CollType::kReduceScatter, recvcount, datatype, op, 0}, sendbuff,
                    recvbuff);
}

mixcclResult_t mixcclBroadcast(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               int root, mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclBroadcast", comm, {CollType::kBroadcast, count, datatype, mixcclSum, root}, sendbuff,
                    recvbuff);
}

mixcclResult_t mixcclGroupStart(void) {
  clearLastError();
  groupStart();
  return mixcclSuccess;
}

mixcclResult_t mixcclGroupEnd(void) {
  clearLastError();
  return groupEnd();
}

}  // extern "C"

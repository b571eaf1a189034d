// C API: collectives. Validation happens here, before anything is touched; a failed validation returns
// mixcclInvalidArgument / mixcclInvalidUsage with a message from mixcclGetLastError.
#include <cstdint>

#include "core/comm_handle.h"
#include "core/communicator.h"
#include "core/datatype.h"
#include "core/device_launch.h"
#include "core/group.h"
#include "core/pre_mul_sum.h"
#include "device/gpu_backend.h"

using namespace mixccl;

namespace {

bool overlaps(const void* a, size_t aBytes, const void* b, size_t bBytes) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return aBytes != 0 && bBytes != 0 && pa < pb + bBytes && pb < pa + aBytes;
}

// The checks every data-moving call shares: a live, usable communicator and a valid data type.
Result checkCommAndType(const char* fn, mixcclComm* comm, mixcclDataType_t dtype) {
  MIXCCL_TRY(readyComm(comm, fn));
  Communicator& c = *comm->impl;
  if (c.finalized) return failf(mixcclInvalidUsage, "%s: the communicator was finalized", fn);
  if (c.asyncError() != mixcclSuccess) {
    return failf(c.asyncError(), "%s: the communicator failed earlier and cannot be used: %s", fn,
                 c.asyncErrorMessage().c_str());
  }
  if (!isValidDataType(dtype)) return failf(mixcclInvalidArgument, "%s: invalid datatype %d", fn, dtype);
  return mixcclSuccess;
}

// Where the call's buffers (and a pre-mul-sum scalar) live: GPU memory is staged (core/device_launch.h).
Result locate(CollCall* call, const PreMulSumOp* userOp) {
  PointerInfo info;
  if (call->send != nullptr) {
    MIXCCL_TRY(queryMemoryType(call->send, &info));
    call->sendMem = info.type;
    call->sendDevice = info.device;
    if (info.device >= 0) call->device = info.device;
  }
  if (call->recv != nullptr) {
    MIXCCL_TRY(queryMemoryType(call->recv, &info));
    call->recvMem = info.type;
    call->recvDevice = info.device;
    if (info.device >= 0) call->device = info.device;
  }
  if (userOp != nullptr && userOp->pointer != nullptr) {
    MIXCCL_TRY(queryMemoryType(userOp->pointer, &info));
    call->scalarMem = info.type;
  }
  return mixcclSuccess;
}

// Checks a call and, if it is valid, runs or defers it.
Result collective(const char* fn, mixcclComm* comm, CollArgs args, const void* send, void* recv, void* stream) {
  clearLastError();
  MIXCCL_TRY(checkCommAndType(fn, comm, args.dtype));
  Communicator& c = *comm->impl;
  const PreMulSumOp* userOp = nullptr;
  if (static_cast<int>(args.op) >= mixcclNumOps) {
    static const PreMulSumOps kNone;
    MIXCCL_TRY((comm->userOps ? *comm->userOps : kNone).find(args.op, args.dtype, fn, &userOp));
  } else if (!isValidRedOp(args.op)) {
    return failf(mixcclInvalidArgument, "%s: invalid reduction op %d", fn, args.op);
  }
  const bool rooted = args.type == CollType::kBroadcast || args.type == CollType::kReduce;
  if (rooted && (args.root < 0 || args.root >= c.nranks())) {
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
  const bool needsSend = readsSend(args, c.rank());
  const bool needsRecv = writesRecv(args, c.rank());
  if (args.count > 0 && needsSend && send == nullptr) return failf(mixcclInvalidArgument, "%s: sendbuff is NULL", fn);
  if (args.count > 0 && needsRecv && recv == nullptr) return failf(mixcclInvalidArgument, "%s: recvbuff is NULL", fn);
  // In place means the exact layout of NCCL; any other overlap would silently corrupt the result.
  const char* inPlaceSend = static_cast<const char*>(recv);
  if (args.type == CollType::kAllGather) inPlaceSend += c.rank() * sendBytes;
  bool inPlace = send == inPlaceSend;
  if (args.type == CollType::kReduceScatter) inPlace = recv == static_cast<const char*>(send) + c.rank() * recvBytes;
  if (needsSend && needsRecv && !inPlace && overlaps(send, sendBytes, recv, recvBytes)) {
    return failf(mixcclInvalidArgument, "%s: sendbuff and recvbuff overlap without being in place", fn);
  }
  if (args.count == 0) return mixcclSuccess;
  CollCall call;
  call.comm = comm;
  call.args = args;
  call.send = send;
  call.recv = recv;
  call.stream = stream;
  MIXCCL_TRY(locate(&call, userOp));
  if (userOp != nullptr && (needsStaging(call) || call.scalarMem != MemoryType::kHost)) {
    call.scale = *userOp;  // applied to the staged input when the stream reaches the call
  } else if (userOp != nullptr) {
    // Pre-mul-sum: the scaled copy of this rank's input is summed; the user's buffer stays as it is.
    MIXCCL_TRY(scaleInput(*userOp, send, sendElements(args, c.nranks()), &call.owned));
    call.send = call.owned.get();
    call.args.op = mixcclSum;
  }
  return launchOrDefer(call);
}

// Checks a send or receive and runs or defers it.
Result pointToPoint(const char* fn, mixcclComm* comm, bool send, void* buf, size_t count, mixcclDataType_t dtype,
                    int peer, void* stream) {
  MIXCCL_TRY(checkCommAndType(fn, comm, dtype));
  Communicator& c = *comm->impl;
  if (peer < 0 || peer >= c.nranks()) return failf(mixcclInvalidArgument, "%s: peer %d is outside [0, %d)", fn, peer,
                                                   c.nranks());
  if (count > SIZE_MAX / dataTypeSize(dtype)) return failf(mixcclInvalidArgument, "%s: count %zu overflows", fn, count);
  if (count > 0 && buf == nullptr) return failf(mixcclInvalidArgument, "%s: %s is NULL", fn, send ? "sendbuff" : "recvbuff");
  CollCall call;
  call.comm = comm;
  call.args = CollArgs{send ? CollType::kSend : CollType::kRecv, count, dtype, mixcclSum, 0};
  call.peer = peer;
  if (send) {
    call.send = buf;
  } else {
    call.recv = buf;
  }
  call.stream = stream;
  MIXCCL_TRY(locate(&call, nullptr));
  return launchOrDefer(call);
}

// Runs `body` (which issues sends and receives) as one group, so its calls run concurrently.
template <typename Body>
Result asGroup(Body body) {
  groupStart();
  Result res = body();
  Result end = groupEnd();
  return res != mixcclSuccess ? res : end;
}

// Shared checks of all-to-all / gather / scatter before their sends and receives are issued.
Result checkBlocks(const char* fn, mixcclComm* comm, mixcclDataType_t dtype, size_t count, int root) {
  MIXCCL_TRY(checkCommAndType(fn, comm, dtype));
  int n = comm->impl->nranks();
  if (root < 0 || root >= n) return failf(mixcclInvalidArgument, "%s: root %d is outside [0, %d)", fn, root, n);
  if (count > SIZE_MAX / dataTypeSize(dtype) / static_cast<size_t>(n)) {
    return failf(mixcclInvalidArgument, "%s: count %zu x %d ranks overflows", fn, count, n);
  }
  return mixcclSuccess;
}

}  // namespace

extern "C" {

mixcclResult_t mixcclAllReduce(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               mixcclRedOp_t op, mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclAllReduce", comm, {CollType::kAllReduce, count, datatype, op, 0}, sendbuff, recvbuff,
                    stream);
}

mixcclResult_t mixcclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, mixcclDataType_t datatype,
                               mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclAllGather", comm, {CollType::kAllGather, sendcount, datatype, mixcclSum, 0}, sendbuff,
                    recvbuff, stream);
}

mixcclResult_t mixcclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   mixcclDataType_t datatype, mixcclRedOp_t op, mixcclComm_t comm,
                                   mixcclStream_t stream) {
  return collective("mixcclReduceScatter", comm, {CollType::kReduceScatter, recvcount, datatype, op, 0}, sendbuff,
                    recvbuff, stream);
}

mixcclResult_t mixcclBroadcast(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               int root, mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclBroadcast", comm, {CollType::kBroadcast, count, datatype, mixcclSum, root}, sendbuff,
                    recvbuff, stream);
}

mixcclResult_t mixcclReduce(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                            mixcclRedOp_t op, int root, mixcclComm_t comm, mixcclStream_t stream) {
  return collective("mixcclReduce", comm, {CollType::kReduce, count, datatype, op, root}, sendbuff, recvbuff,
                    stream);
}

mixcclResult_t mixcclSend(const void* sendbuff, size_t count, mixcclDataType_t datatype, int peer,
                          mixcclComm_t comm, mixcclStream_t stream) {
  clearLastError();
  return pointToPoint("mixcclSend", comm, true, const_cast<void*>(sendbuff), count, datatype, peer, stream);
}

mixcclResult_t mixcclRecv(void* recvbuff, size_t count, mixcclDataType_t datatype, int peer, mixcclComm_t comm,
                          mixcclStream_t stream) {
  clearLastError();
  return pointToPoint("mixcclRecv", comm, false, recvbuff, count, datatype, peer, stream);
}

mixcclResult_t mixcclAllToAll(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                              mixcclComm_t comm, mixcclStream_t stream) {
  clearLastError();
  MIXCCL_TRY(checkBlocks("mixcclAllToAll", comm, datatype, count, 0));
  const size_t block = count * dataTypeSize(datatype);
  return asGroup([&]() -> Result {
    for (int r = 0; r < comm->impl->nranks(); ++r) {
      MIXCCL_TRY(pointToPoint("mixcclAllToAll", comm, true, const_cast<char*>(static_cast<const char*>(sendbuff)) +
                              r * block, count, datatype, r, stream));
      MIXCCL_TRY(pointToPoint("mixcclAllToAll", comm, false, static_cast<char*>(recvbuff) + r * block, count,
                              datatype, r, stream));
    }
    return mixcclSuccess;
  });
}

mixcclResult_t mixcclGather(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype, int root,
                            mixcclComm_t comm, mixcclStream_t stream) {
  clearLastError();
  MIXCCL_TRY(checkBlocks("mixcclGather", comm, datatype, count, root));
  const size_t block = count * dataTypeSize(datatype);
  return asGroup([&]() -> Result {
    MIXCCL_TRY(pointToPoint("mixcclGather", comm, true, const_cast<void*>(sendbuff), count, datatype, root, stream));
    if (comm->impl->rank() != root) return mixcclSuccess;
    for (int r = 0; r < comm->impl->nranks(); ++r) {
      MIXCCL_TRY(pointToPoint("mixcclGather", comm, false, static_cast<char*>(recvbuff) + r * block, count, datatype,
                              r, stream));
    }
    return mixcclSuccess;
  });
}

mixcclResult_t mixcclScatter(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype, int root,
                             mixcclComm_t comm, mixcclStream_t stream) {
  clearLastError();
  MIXCCL_TRY(checkBlocks("mixcclScatter", comm, datatype, count, root));
  const size_t block = count * dataTypeSize(datatype);
  return asGroup([&]() -> Result {
    if (comm->impl->rank() == root) {
      for (int r = 0; r < comm->impl->nranks(); ++r) {
        MIXCCL_TRY(pointToPoint("mixcclScatter", comm, true, const_cast<char*>(static_cast<const char*>(sendbuff)) +
                                r * block, count, datatype, r, stream));
      }
    }
    return pointToPoint("mixcclScatter", comm, false, recvbuff, count, datatype, root, stream);
  });
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

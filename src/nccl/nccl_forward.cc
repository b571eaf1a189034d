// libnccl.so.2: the NCCL 2.28 C API forwarded to mixccl. Types, enum values and result codes are numerically
// identical (static_asserts below), so most calls are a cast and a call. A call mixccl does not implement yet
// returns ncclInvalidUsage with a message naming it (ncclGetLastError), never a silent success. Every function is
// also exported as pnccl<Name>, as NCCL does.
#include "nccl/nccl.h"

#include <cstring>

#include "core/status.h"
#include "mixccl.h"

static_assert(sizeof(ncclUniqueId) == sizeof(mixcclUniqueId), "unique id size");
static_assert(static_cast<int>(ncclInProgress) == static_cast<int>(mixcclInProgress), "result codes");
static_assert(static_cast<int>(ncclFloat8e5m2) == static_cast<int>(mixcclFloat8e5m2), "data types");
static_assert(static_cast<int>(ncclAvg) == static_cast<int>(mixcclAvg), "reduction ops");

namespace {

mixcclComm_t toMixccl(ncclComm_t comm) { return reinterpret_cast<mixcclComm_t>(comm); }
ncclResult_t toNccl(mixcclResult_t r) { return static_cast<ncclResult_t>(r); }
mixcclDataType_t toMixccl(ncclDataType_t t) { return static_cast<mixcclDataType_t>(t); }
mixcclRedOp_t toMixccl(ncclRedOp_t op) { return static_cast<mixcclRedOp_t>(op); }

mixcclUniqueId toMixccl(const ncclUniqueId& id) {
  mixcclUniqueId out;
  memcpy(&out, &id, sizeof(out));
  return out;
}

ncclResult_t notImplemented(const char* fn) {
  return toNccl(mixccl::failf(mixcclInvalidUsage, "%s is not implemented by mixccl's NCCL layer yet", fn));
}

// ncclConfig_t (2.28 layout) -> mixcclConfig_t: the fields mixccl honours (blocking, commName); the others are GPU
// tuning knobs. A NULL config stays "all undefined" (a split's child then inherits its parent's settings).
mixcclResult_t convertConfig(const ncclConfig_t* in, const char* fn, mixcclConfig_t* out) {
  *out = MIXCCL_CONFIG_INITIALIZER;
  if (in == nullptr) return mixcclSuccess;
  if (in->magic != NCCL_CONFIG_MAGIC || in->size < offsetof(ncclConfig_t, commName) + sizeof(const char*)) {
    return mixccl::failf(mixcclInvalidArgument, "%s: config was not initialised with NCCL_CONFIG_INITIALIZER", fn);
  }
  if (in->blocking != NCCL_CONFIG_UNDEF_INT) out->blocking = in->blocking;
  out->commName = in->commName;
  return mixcclSuccess;
}

mixcclComm_t* toMixccl(ncclComm_t* comm) { return reinterpret_cast<mixcclComm_t*>(comm); }

}  // namespace

#define NCCL_ALIAS(name) extern "C" __typeof__(name) p##name __attribute__((alias(#name)));

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (version == nullptr) return toNccl(mixccl::fail(mixcclInvalidArgument, "ncclGetVersion: version is NULL"));
  *version = NCCL_VERSION_CODE;  // the NCCL ABI served; mixcclGetVersion reports mixccl's own
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return toNccl(mixcclGetUniqueId(reinterpret_cast<mixcclUniqueId*>(uniqueId)));
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  return toNccl(mixcclCommInitRank(reinterpret_cast<mixcclComm_t*>(comm), nranks, toMixccl(commId), rank));
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank,
                                    ncclConfig_t* config) {
  mixcclConfig_t mine;
  mixcclResult_t res = convertConfig(config, "ncclCommInitRankConfig", &mine);
  if (res != mixcclSuccess) return toNccl(res);
  return toNccl(mixcclCommInitRankConfig(toMixccl(comm), nranks, toMixccl(commId), rank, &mine));
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) { return toNccl(mixcclCommFinalize(toMixccl(comm))); }
ncclResult_t ncclCommDestroy(ncclComm_t comm) { return toNccl(mixcclCommDestroy(toMixccl(comm))); }
ncclResult_t ncclCommAbort(ncclComm_t comm) { return toNccl(mixcclCommAbort(toMixccl(comm))); }
const char* ncclGetErrorString(ncclResult_t result) {
  return mixcclGetErrorString(static_cast<mixcclResult_t>(result));
}
const char* ncclGetLastError(ncclComm_t comm) { return mixcclGetLastError(toMixccl(comm)); }
void ncclResetDebugInit(void) {}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  return toNccl(mixcclCommGetAsyncError(toMixccl(comm), reinterpret_cast<mixcclResult_t*>(asyncError)));
}
ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) { return toNccl(mixcclCommCount(toMixccl(comm), count)); }
ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return toNccl(mixcclCommUserRank(toMixccl(comm), rank));
}

// Registration is an optimisation hint in NCCL; mixccl needs none for host memory, so it hands back a handle that
// deregistration accepts.
ncclResult_t ncclCommRegister(const ncclComm_t comm, void* buff, size_t size, void** handle) {
  if (handle == nullptr) return toNccl(mixccl::fail(mixcclInvalidArgument, "ncclCommRegister: handle is NULL"));
  *handle = buff;
  return ncclSuccess;
}
ncclResult_t ncclCommDeregister(const ncclComm_t comm, void* handle) { return ncclSuccess; }

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                        int root, ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclReduce(sendbuff, recvbuff, count, toMixccl(datatype), toMixccl(op), root, toMixccl(comm), stream));
}
ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
  return toNccl(mixcclBroadcast(buff, buff, count, toMixccl(datatype), root, toMixccl(comm), stream));
}
ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclBroadcast(sendbuff, recvbuff, count, toMixccl(datatype), root, toMixccl(comm), stream));
}
ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclAllReduce(sendbuff, recvbuff, count, toMixccl(datatype), toMixccl(op), toMixccl(comm), stream));
}
ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return toNccl(
      mixcclReduceScatter(sendbuff, recvbuff, recvcount, toMixccl(datatype), toMixccl(op), toMixccl(comm), stream));
}
ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclAllGather(sendbuff, recvbuff, sendcount, toMixccl(datatype), toMixccl(comm), stream));
}
ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                          ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclAllToAll(sendbuff, recvbuff, count, toMixccl(datatype), toMixccl(comm), stream));
}
ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                        ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclGather(sendbuff, recvbuff, count, toMixccl(datatype), root, toMixccl(comm), stream));
}
ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                         ncclComm_t comm, cudaStream_t stream) {
  return toNccl(mixcclScatter(sendbuff, recvbuff, count, toMixccl(datatype), root, toMixccl(comm), stream));
}
ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return toNccl(mixcclSend(sendbuff, count, toMixccl(datatype), peer, toMixccl(comm), stream));
}
ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return toNccl(mixcclRecv(recvbuff, count, toMixccl(datatype), peer, toMixccl(comm), stream));
}
ncclResult_t ncclGroupStart(void) { return toNccl(mixcclGroupStart()); }
ncclResult_t ncclGroupEnd(void) { return toNccl(mixcclGroupEnd()); }

// Host memory in this build (no GPU backend): see mixcclMemAlloc.
ncclResult_t ncclMemAlloc(void** ptr, size_t size) { return toNccl(mixcclMemAlloc(ptr, size)); }
ncclResult_t ncclMemFree(void* ptr) { return toNccl(mixcclMemFree(ptr)); }
ncclResult_t ncclCommInitAll(ncclComm_t* comm, int ndev, const int* devlist) {
  return toNccl(mixcclCommInitAll(toMixccl(comm), ndev, devlist));
}
ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config) {
  static_assert(NCCL_SPLIT_NOCOLOR == MIXCCL_SPLIT_NOCOLOR, "split colors");
  mixcclConfig_t mine;
  mixcclResult_t res = convertConfig(config, "ncclCommSplit", &mine);
  if (res != mixcclSuccess) return toNccl(res);
  return toNccl(mixcclCommSplit(toMixccl(comm), color, key, toMixccl(newcomm), &mine));
}
ncclResult_t ncclCommShrink(ncclComm_t comm, int* excludeRanksList, int excludeRanksCount, ncclComm_t* newcomm,
                            ncclConfig_t* config, int shrinkFlags) {
  mixcclConfig_t mine;
  mixcclResult_t res = convertConfig(config, "ncclCommShrink", &mine);
  if (res != mixcclSuccess) return toNccl(res);
  return toNccl(mixcclCommShrink(toMixccl(comm), excludeRanksList, excludeRanksCount, toMixccl(newcomm), &mine,
                                 shrinkFlags));
}
ncclResult_t ncclCommInitRankScalable(ncclComm_t* newcomm, int nranks, int myrank, int nId, ncclUniqueId* commIds,
                                      ncclConfig_t* config) {
  mixcclConfig_t mine;
  mixcclResult_t res = convertConfig(config, "ncclCommInitRankScalable", &mine);
  if (res != mixcclSuccess) return toNccl(res);
  static_assert(sizeof(ncclUniqueId) == sizeof(mixcclUniqueId) && alignof(ncclUniqueId) == alignof(mixcclUniqueId),
                "id arrays");
  return toNccl(mixcclCommInitRankScalable(toMixccl(newcomm), nranks, myrank, nId,
                                           reinterpret_cast<mixcclUniqueId*>(commIds), &mine));
}
// A user operator's value (>= ncclNumOps) passes through unchanged; mixccl owns its meaning (pre_mul_sum.h).
ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
  static_assert(static_cast<int>(ncclScalarHostImmediate) == static_cast<int>(mixcclScalarHostImmediate) &&
                static_cast<int>(ncclScalarDevice) == static_cast<int>(mixcclScalarDevice), "scalar residence");
  static_assert(sizeof(ncclRedOp_t) == sizeof(mixcclRedOp_t), "reduction op size");
  return toNccl(mixcclRedOpCreatePreMulSum(reinterpret_cast<mixcclRedOp_t*>(op), scalar, toMixccl(datatype),
                                           static_cast<mixcclScalarResidence_t>(residence), toMixccl(comm)));
}
ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  return toNccl(mixcclRedOpDestroy(toMixccl(op), toMixccl(comm)));
}

// Not implemented yet (issue 6): an honest error naming the call.
ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) { return notImplemented("ncclCommRevoke"); }
ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return toNccl(mixcclCommDevice(toMixccl(comm), device));
}
ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void* buff, size_t size, ncclWindow_t* win, int winFlags) {
  return notImplemented("ncclCommWindowRegister");
}
ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t win) {
  return notImplemented("ncclCommWindowDeregister");
}
ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t* simInfo) { return notImplemented("ncclGroupSimulateEnd"); }
// Device-side API (nccl_device/core.h): declared here with opaque pointer arguments.
ncclResult_t ncclDevCommCreate(ncclComm_t comm, const void* reqs, void* outDevComm) {
  return notImplemented("ncclDevCommCreate");
}
ncclResult_t ncclDevCommDestroy(ncclComm_t comm, const void* devComm) { return notImplemented("ncclDevCommDestroy"); }

}  // extern "C"

NCCL_ALIAS(ncclGetVersion)
NCCL_ALIAS(ncclGetUniqueId)
NCCL_ALIAS(ncclCommInitRank)
NCCL_ALIAS(ncclCommInitRankConfig)
NCCL_ALIAS(ncclCommFinalize)
NCCL_ALIAS(ncclCommDestroy)
NCCL_ALIAS(ncclCommAbort)
NCCL_ALIAS(ncclGetErrorString)
NCCL_ALIAS(ncclGetLastError)
NCCL_ALIAS(ncclResetDebugInit)
NCCL_ALIAS(ncclCommGetAsyncError)
NCCL_ALIAS(ncclCommCount)
NCCL_ALIAS(ncclCommUserRank)
NCCL_ALIAS(ncclCommRegister)
NCCL_ALIAS(ncclCommDeregister)
NCCL_ALIAS(ncclReduce)
NCCL_ALIAS(ncclBcast)
NCCL_ALIAS(ncclBroadcast)
NCCL_ALIAS(ncclAllReduce)
NCCL_ALIAS(ncclReduceScatter)
NCCL_ALIAS(ncclAllGather)
NCCL_ALIAS(ncclAlltoAll)
NCCL_ALIAS(ncclGather)
NCCL_ALIAS(ncclScatter)
NCCL_ALIAS(ncclSend)
NCCL_ALIAS(ncclRecv)
NCCL_ALIAS(ncclGroupStart)
NCCL_ALIAS(ncclGroupEnd)
NCCL_ALIAS(ncclMemAlloc)
NCCL_ALIAS(ncclMemFree)
NCCL_ALIAS(ncclCommInitAll)
NCCL_ALIAS(ncclCommRevoke)
NCCL_ALIAS(ncclCommSplit)
NCCL_ALIAS(ncclCommShrink)
NCCL_ALIAS(ncclCommInitRankScalable)
NCCL_ALIAS(ncclCommCuDevice)
NCCL_ALIAS(ncclCommWindowRegister)
NCCL_ALIAS(ncclCommWindowDeregister)
NCCL_ALIAS(ncclRedOpCreatePreMulSum)
NCCL_ALIAS(ncclRedOpDestroy)
NCCL_ALIAS(ncclGroupSimulateEnd)
NCCL_ALIAS(ncclDevCommCreate)
NCCL_ALIAS(ncclDevCommDestroy)

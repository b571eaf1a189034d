/*
 * mixccl public C API.
 *
 * Shaped like NCCL 2.28 (nccl.h) so that an NCCL ABI layer can forward 1:1: the result codes, data types and
 * reduction operators carry the same numeric values as their nccl.h counterparts, and every function has the
 * same argument order as its ncclXxx twin. The stream argument is vendor neutral (an opaque pointer: a
 * cudaStream_t, a hipStream_t, or NULL). For host-memory buffers a collective completes before it returns,
 * unless it is issued between mixcclGroupStart and mixcclGroupEnd, in which case it completes in GroupEnd.
 *
 * Thread safety: different communicators may be used from different threads at once; one communicator must
 * be used by one thread at a time (as with NCCL).
 */
#ifndef MIXCCL_H_
#define MIXCCL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIXCCL_MAJOR 0
#define MIXCCL_MINOR 1
#define MIXCCL_PATCH 0
/* Same encoding as NCCL_VERSION for X >= 2 or Y > 8: X*10000 + Y*100 + Z. */
#define MIXCCL_VERSION(X, Y, Z) ((X) * 10000 + (Y) * 100 + (Z))
#define MIXCCL_VERSION_CODE MIXCCL_VERSION(MIXCCL_MAJOR, MIXCCL_MINOR, MIXCCL_PATCH)

typedef struct mixcclComm* mixcclComm_t;
#define MIXCCL_COMM_NULL NULL

/* A vendor-neutral stream handle: cudaStream_t / hipStream_t / NULL (default stream, or host memory). */
typedef void* mixcclStream_t;

#define MIXCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[MIXCCL_UNIQUE_ID_BYTES];
} mixcclUniqueId;

/* Result codes: numerically equal to ncclResult_t. */
typedef enum {
  mixcclSuccess = 0,
  mixcclUnhandledCudaError = 1, /* a device runtime call failed (CUDA or HIP) */
  mixcclSystemError = 2,
  mixcclInternalError = 3,
  mixcclInvalidArgument = 4,
  mixcclInvalidUsage = 5,
  mixcclRemoteError = 6,
  mixcclInProgress = 7,
  mixcclNumResults = 8
} mixcclResult_t;

/* Data types: numerically equal to ncclDataType_t. */
typedef enum {
  mixcclInt8 = 0,
  mixcclChar = 0,
  mixcclUint8 = 1,
  mixcclInt32 = 2,
  mixcclInt = 2,
  mixcclUint32 = 3,
  mixcclInt64 = 4,
  mixcclUint64 = 5,
  mixcclFloat16 = 6,
  mixcclHalf = 6,
  mixcclFloat32 = 7,
  mixcclFloat = 7,
  mixcclFloat64 = 8,
  mixcclDouble = 8,
  mixcclBfloat16 = 9,
  mixcclFloat8e4m3 = 10,
  mixcclFloat8e5m2 = 11,
  mixcclNumTypes = 12
} mixcclDataType_t;

/* Reduction operators: numerically equal to ncclRedOp_t. */
typedef enum {
  mixcclSum = 0,
  mixcclProd = 1,
  mixcclMax = 2,
  mixcclMin = 3,
  mixcclAvg = 4, /* sum, then divided by the number of ranks once, where the final value is produced */
  mixcclNumOps = 5,
  mixcclMaxRedOp = 0x7fffffff
} mixcclRedOp_t;

#define MIXCCL_CONFIG_UNDEF_INT INT32_MIN
#define MIXCCL_CONFIG_UNDEF_PTR NULL
#define MIXCCL_CONFIG_MAGIC 0x6d697863u /* "mixc" */

/* Communicator configuration. Fields left undefined take the MIXCCL_* environment value or the default;
 * fields set here override the environment. */
typedef struct mixcclConfig_v1 {
  size_t size;          /* sizeof(mixcclConfig_t), set by the initializer */
  unsigned int magic;   /* MIXCCL_CONFIG_MAGIC */
  unsigned int version; /* MIXCCL_VERSION_CODE of the header the caller compiled against */
  int blocking;         /* 1 (default): init returns when the communicator is ready */
  const char* commName; /* a label used in log lines */
  int timeoutMs;        /* every wait gives up after this (default: MIXCCL_TIMEOUT) */
} mixcclConfig_t;

#define MIXCCL_CONFIG_INITIALIZER                                                        \
  {                                                                                      \
    sizeof(mixcclConfig_t), MIXCCL_CONFIG_MAGIC, MIXCCL_VERSION_CODE,                    \
        MIXCCL_CONFIG_UNDEF_INT, MIXCCL_CONFIG_UNDEF_PTR, MIXCCL_CONFIG_UNDEF_INT        \
  }

/* mixccl's own version (MIXCCL_VERSION_CODE). */
mixcclResult_t mixcclGetVersion(int* version);

/* Creates a unique id for a new communicator: the bootstrap root's address plus a random 128-bit job secret.
 * The calling process serves the rendezvous in a background thread until every rank has joined (or
 * MIXCCL_TIMEOUT passes); an id serves exactly one communicator. */
mixcclResult_t mixcclGetUniqueId(mixcclUniqueId* uniqueId);

/* Collective: every rank of the new communicator calls it with the same nranks and id. */
mixcclResult_t mixcclCommInitRank(mixcclComm_t* comm, int nranks, mixcclUniqueId commId, int rank);
mixcclResult_t mixcclCommInitRankConfig(mixcclComm_t* comm, int nranks, mixcclUniqueId commId, int rank,
                                        mixcclConfig_t* config);

/* Init from a launcher's environment: torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), Open MPI
 * (OMPI_COMM_WORLD_RANK/SIZE) or Slurm (SLURM_PROCID/NTASKS), with MIXCCL_ROOT_ADDR=host:port naming where
 * rank 0 serves the rendezvous (see README for the defaults). */
mixcclResult_t mixcclCommInitFromEnv(mixcclComm_t* comm);

/* Non-blocking init (config->blocking = 0): InitRankConfig / InitRankScalable return mixcclInProgress at once
 * with *comm set to a handle whose init runs in a background thread; mixcclCommGetAsyncError reports
 * mixcclInProgress until it ends, then mixcclSuccess or the init's error. Any other call on such a handle waits
 * for the init to end (bounded by the init's timeout) and then proceeds, or returns the init's error. Destroy or
 * Abort of a handle still initializing returns at once: the background thread frees what it built when the init
 * ends (when the peers complete it or its timeout passes). Inside a group, inits complete in GroupEnd. */

/* Init from several ids (NCCL's scalable init). nId >= 1 valid ids, the same list on every rank; mixccl
 * bootstraps from commIds[0] only (the others are checked and accepted, but not yet used to spread the root's
 * load). */
mixcclResult_t mixcclCommInitRankScalable(mixcclComm_t* newcomm, int nranks, int myrank, int nId,
                                          mixcclUniqueId* commIds, mixcclConfig_t* config);

/* ndev ranks of one new communicator in this one process (one thread per rank initialises them concurrently);
 * comms[i] is rank i. devlist (may be NULL) names a device per rank; with host memory it is only logged. */
mixcclResult_t mixcclCommInitAll(mixcclComm_t* comms, int ndev, const int* devlist);

#define MIXCCL_SPLIT_NOCOLOR -1
/* Collective over `comm`: ranks passing the same color form a new communicator, ranked by (key, rank in comm);
 * color MIXCCL_SPLIT_NOCOLOR takes part in the exchange and gets *newcomm = NULL. config NULL (or undefined
 * fields) inherits the parent's settings. Completes before returning (also with blocking = 0); inside a group it
 * completes in GroupEnd (needed when one thread drives several ranks of the parent). */
mixcclResult_t mixcclCommSplit(mixcclComm_t comm, int color, int key, mixcclComm_t* newcomm, mixcclConfig_t* config);

#define MIXCCL_SHRINK_DEFAULT 0
#define MIXCCL_SHRINK_ABORT 1
/* Called by the surviving ranks only (the excluded ones may be dead): the new communicator holds the ranks of
 * `comm` not listed in excludeRanksList, in their order. Uses the parent's bootstrap between survivors only, so
 * it also works after the parent failed. Every survivor must pass the same list (checked). Completes before
 * returning. shrinkFlags: MIXCCL_SHRINK_DEFAULT or MIXCCL_SHRINK_ABORT (host-memory operations are never
 * outstanding, so both behave alike). */
mixcclResult_t mixcclCommShrink(mixcclComm_t comm, int* excludeRanksList, int excludeRanksCount,
                                mixcclComm_t* newcomm, mixcclConfig_t* config, int shrinkFlags);

/* Waits for the communicator's outstanding operations; afterwards only Destroy is allowed. */
mixcclResult_t mixcclCommFinalize(mixcclComm_t comm);
/* Frees the communicator's resources (shared memory, sockets, threads). */
mixcclResult_t mixcclCommDestroy(mixcclComm_t comm);
/* Stops outstanding operations, tells the peers that this rank is leaving, and frees the communicator. */
mixcclResult_t mixcclCommAbort(mixcclComm_t comm);

mixcclResult_t mixcclCommCount(const mixcclComm_t comm, int* count);
mixcclResult_t mixcclCommUserRank(const mixcclComm_t comm, int* rank);
/* The GPU this communicator is bound to: the device current (cudaSetDevice / hipSetDevice) when it was created.
 * mixcclInvalidUsage when it was created without a usable GPU (a host-memory rank). */
mixcclResult_t mixcclCommDevice(const mixcclComm_t comm, int* device);
/* The first error an operation of this communicator hit after it returned (or mixcclSuccess). */
mixcclResult_t mixcclCommGetAsyncError(mixcclComm_t comm, mixcclResult_t* asyncError);

const char* mixcclGetErrorString(mixcclResult_t result);
/* The message of the last error this thread saw (comm may be NULL); "" when there was none. */
const char* mixcclGetLastError(mixcclComm_t comm);

/* Collectives. Counts follow NCCL: all-reduce and broadcast take the element count of each buffer;
 * all-gather takes the per-rank send count (recvbuff holds nranks * sendcount); reduce-scatter takes the
 * per-rank receive count (sendbuff holds nranks * recvcount). */
mixcclResult_t mixcclAllReduce(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               mixcclRedOp_t op, mixcclComm_t comm, mixcclStream_t stream);
mixcclResult_t mixcclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, mixcclDataType_t datatype,
                               mixcclComm_t comm, mixcclStream_t stream);
mixcclResult_t mixcclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   mixcclDataType_t datatype, mixcclRedOp_t op, mixcclComm_t comm,
                                   mixcclStream_t stream);
mixcclResult_t mixcclBroadcast(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                               int root, mixcclComm_t comm, mixcclStream_t stream);

/* Reduce to `root`: recvbuff is only written (and only needed) at the root. */
mixcclResult_t mixcclReduce(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                            mixcclRedOp_t op, int root, mixcclComm_t comm, mixcclStream_t stream);

/* Point-to-point. A send is matched with the receive of the same position between the same two ranks; counts
 * and types must agree. Several sends/receives in one group run concurrently (no deadlock on exchanges). */
mixcclResult_t mixcclSend(const void* sendbuff, size_t count, mixcclDataType_t datatype, int peer,
                          mixcclComm_t comm, mixcclStream_t stream);
mixcclResult_t mixcclRecv(void* recvbuff, size_t count, mixcclDataType_t datatype, int peer, mixcclComm_t comm,
                          mixcclStream_t stream);

/* All-to-all: block r (count elements) of sendbuff goes to rank r, which stores it as block `rank` of its
 * recvbuff. Gather: every rank's count elements land at block rank of the root's recvbuff. Scatter: block r of
 * the root's sendbuff lands in rank r's recvbuff. (NCCL 2.28 semantics; built from sends and receives.) */
mixcclResult_t mixcclAllToAll(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype,
                              mixcclComm_t comm, mixcclStream_t stream);
mixcclResult_t mixcclGather(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype, int root,
                            mixcclComm_t comm, mixcclStream_t stream);
mixcclResult_t mixcclScatter(const void* sendbuff, void* recvbuff, size_t count, mixcclDataType_t datatype, int root,
                             mixcclComm_t comm, mixcclStream_t stream);

/* Pre-multiplied sum: a reduction operator of one communicator that multiplies each rank's input by `scalar`
 * (of `datatype`) and then sums. *op is a value >= mixcclNumOps, valid only on `comm` and only with `datatype`,
 * until mixcclRedOpDestroy. residence mixcclScalarHostImmediate: the scalar is read now; mixcclScalarDevice: the
 * pointer is kept and read at every collective, so it must stay valid and be readable by the host (host memory,
 * or device memory the host can read). The user's send buffer is never modified: the input is scaled into a
 * temporary when the call is issued (also inside a group), and the temporary is summed. */
typedef enum { mixcclScalarDevice = 0, mixcclScalarHostImmediate = 1 } mixcclScalarResidence_t;
mixcclResult_t mixcclRedOpCreatePreMulSum(mixcclRedOp_t* op, void* scalar, mixcclDataType_t datatype,
                                          mixcclScalarResidence_t residence, mixcclComm_t comm);
mixcclResult_t mixcclRedOpDestroy(mixcclRedOp_t op, mixcclComm_t comm);

/* Page-aligned host memory for buffers (this build has no GPU backend, so this is what ranks on host memory
 * use). size 0 is an invalid argument; MemFree takes only pointers from MemAlloc. */
mixcclResult_t mixcclMemAlloc(void** ptr, size_t size);
mixcclResult_t mixcclMemFree(void* ptr);

/* Group calls: collectives issued between Start and End are launched together in End. Nestable. */
mixcclResult_t mixcclGroupStart(void);
mixcclResult_t mixcclGroupEnd(void);

#ifdef __cplusplus
}
#endif

#endif /* MIXCCL_H_ */

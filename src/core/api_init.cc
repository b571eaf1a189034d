// C API: unique ids, communicator creation and teardown, communicator queries.
#include <climits>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>

#include "bootstrap/unique_id.h"
#include "core/communicator.h"
#include "core/config.h"
#include "core/group.h"
#include "core/log.h"

using namespace mixccl;

namespace {

// A communicator handle the caller passed in: NULL or a destroyed/garbage pointer is an invalid argument.
Result checkComm(const mixcclComm* comm, const char* fn) {
  if (comm == nullptr) return failf(mixcclInvalidArgument, "%s: comm is NULL", fn);
  if (comm->magic != mixcclComm::kMagic || !comm->impl) {
    return failf(mixcclInvalidArgument, "%s: comm is not a live communicator (destroyed or corrupted?)", fn);
  }
  return mixcclSuccess;
}

Result optionsFrom(const mixcclConfig_t* config, Communicator::Options* opts) {
  opts->timeoutSec = configDouble(cfg::kTimeout);
  if (config == nullptr) return mixcclSuccess;
  if (config->magic != MIXCCL_CONFIG_MAGIC || config->size < offsetof(mixcclConfig_t, timeoutMs) + sizeof(int)) {
    return fail(mixcclInvalidArgument,
                "mixcclCommInitRankConfig: config was not initialised with MIXCCL_CONFIG_INITIALIZER "
                "(bad magic or size)");
  }
  if (config->blocking != MIXCCL_CONFIG_UNDEF_INT && config->blocking != 0 && config->blocking != 1) {
    return failf(mixcclInvalidArgument, "mixcclCommInitRankConfig: config.blocking=%d (use 0 or 1)", config->blocking);
  }
  if (config->timeoutMs != MIXCCL_CONFIG_UNDEF_INT) {
    if (config->timeoutMs <= 0) {
      return failf(mixcclInvalidArgument, "mixcclCommInitRankConfig: config.timeoutMs=%d must be > 0",
                   config->timeoutMs);
    }
    opts->timeoutSec = config->timeoutMs / 1000.0;
  }
  if (config->commName != nullptr) opts->name = config->commName;
  return mixcclSuccess;
}

Result initRank(mixcclComm_t* out, int nranks, const mixcclUniqueId& commId, int rank,
                const mixcclConfig_t* config) {
  if (out == nullptr) return fail(mixcclInvalidArgument, "mixcclCommInitRank: comm (output pointer) is NULL");
  if (nranks < 1) return failf(mixcclInvalidArgument, "mixcclCommInitRank: nranks=%d must be >= 1", nranks);
  if (rank < 0 || rank >= nranks) {
    return failf(mixcclInvalidArgument, "mixcclCommInitRank: rank=%d is outside [0, %d)", rank, nranks);
  }
  Communicator::Options opts;
  MIXCCL_TRY(optionsFrom(config, &opts));
  UniqueId id;
  MIXCCL_TRY(decodeUniqueId(commId, &id));
  auto create = [out, nranks, id, rank, opts]() -> Result {
    auto handle = std::make_unique<mixcclComm>();
    MIXCCL_TRY(Communicator::create(id, rank, nranks, opts, &handle->impl));
    *out = handle.release();
    return mixcclSuccess;
  };
  if (inGroup()) {
    deferInit(create);
    return mixcclSuccess;
  }
  return create();
}

}  // namespace

extern "C" {

mixcclResult_t mixcclGetUniqueId(mixcclUniqueId* uniqueId) {
  clearLastError();
  if (uniqueId == nullptr) return fail(mixcclInvalidArgument, "mixcclGetUniqueId: uniqueId is NULL");
  UniqueId id;
  MIXCCL_TRY(createUniqueId(&id));
  encodeUniqueId(id, uniqueId);
  return mixcclSuccess;
}

mixcclResult_t mixcclCommInitRank(mixcclComm_t* comm, int nranks, mixcclUniqueId commId, int rank) {
  clearLastError();
  return initRank(comm, nranks, commId, rank, nullptr);
}

mixcclResult_t mixcclCommInitRankConfig(mixcclComm_t* comm, int nranks, mixcclUniqueId commId, int rank,
                                        mixcclConfig_t* config) {
  clearLastError();
  return initRank(comm, nranks, commId, rank, config);
}

mixcclResult_t mixcclCommInitFromEnv(mixcclComm_t* comm) {
  clearLastError();
  if (comm == nullptr) return fail(mixcclInvalidArgument, "mixcclCommInitFromEnv: comm (output pointer) is NULL");
  UniqueId id;
  int rank = -1, nranks = 0;
  MIXCCL_TRY(uniqueIdFromEnv(&id, &rank, &nranks));
  mixcclUniqueId raw;
  encodeUniqueId(id, &raw);
  return initRank(comm, nranks, raw, rank, nullptr);
}

mixcclResult_t mixcclCommFinalize(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommFinalize"));
  if (comm->impl->finalized) return fail(mixcclInvalidUsage, "mixcclCommFinalize: communicator already finalized");
  // Host-memory collectives complete before they return, so nothing is outstanding here.
  comm->impl->finalized = true;
  return mixcclSuccess;
}

mixcclResult_t mixcclCommDestroy(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommDestroy"));
  comm->magic = 0;
  delete comm;
  return mixcclSuccess;
}

mixcclResult_t mixcclCommAbort(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommAbort"));
  comm->impl->notifyAbort();
  comm->magic = 0;
  delete comm;
  return mixcclSuccess;
}

mixcclResult_t mixcclCommCount(const mixcclComm_t comm, int* count) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommCount"));
  if (count == nullptr) return fail(mixcclInvalidArgument, "mixcclCommCount: count is NULL");
  *count = comm->impl->nranks();
  return mixcclSuccess;
}

mixcclResult_t mixcclCommUserRank(const mixcclComm_t comm, int* rank) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommUserRank"));
  if (rank == nullptr) return fail(mixcclInvalidArgument, "mixcclCommUserRank: rank is NULL");
  *rank = comm->impl->rank();
  return mixcclSuccess;
}

mixcclResult_t mixcclCommGetAsyncError(mixcclComm_t comm, mixcclResult_t* asyncError) {
  clearLastError();
  MIXCCL_TRY(checkComm(comm, "mixcclCommGetAsyncError"));
  if (asyncError == nullptr) return fail(mixcclInvalidArgument, "mixcclCommGetAsyncError: asyncError is NULL");
  *asyncError = comm->impl->asyncError();
  return mixcclSuccess;
}

}  // extern "C"

// C API: unique ids, communicator creation and teardown, communicator queries.
#include <climits>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/unique_id.h"
#include "core/comm_handle.h"
#include "core/communicator.h"
#include "core/config.h"
#include "core/log.h"
#include "device/gpu_backend.h"

using namespace mixccl;

namespace {

Result initRank(mixcclComm_t* out, int nranks, const mixcclUniqueId& commId, int rank, const mixcclConfig_t* config,
                const char* fn) {
  if (out == nullptr) return failf(mixcclInvalidArgument, "%s: comm (output pointer) is NULL", fn);
  if (nranks < 1) return failf(mixcclInvalidArgument, "%s: nranks=%d must be >= 1", fn, nranks);
  if (rank < 0 || rank >= nranks) return failf(mixcclInvalidArgument, "%s: rank=%d is outside [0, %d)", fn, rank, nranks);
  Communicator::Options opts;
  opts.timeoutSec = configDouble(cfg::kTimeout);
  bool blocking = true;
  MIXCCL_TRY(optionsFrom(config, fn, &opts, &blocking));
  UniqueId id;
  MIXCCL_TRY(decodeUniqueId(commId, &id));
  auto create = [nranks, id, rank, opts](std::unique_ptr<Communicator>* built) {
    return Communicator::create(id, rank, nranks, opts, built);
  };
  return runCreate(out, create, blocking);
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
  return initRank(comm, nranks, commId, rank, nullptr, "mixcclCommInitRank");
}

mixcclResult_t mixcclCommInitRankConfig(mixcclComm_t* comm, int nranks, mixcclUniqueId commId, int rank,
                                        mixcclConfig_t* config) {
  clearLastError();
  return initRank(comm, nranks, commId, rank, config, "mixcclCommInitRankConfig");
}

mixcclResult_t mixcclCommInitRankScalable(mixcclComm_t* newcomm, int nranks, int myrank, int nId,
                                          mixcclUniqueId* commIds, mixcclConfig_t* config) {
  clearLastError();
  const char* fn = "mixcclCommInitRankScalable";
  if (nId < 1) return failf(mixcclInvalidArgument, "%s: nId=%d must be >= 1", fn, nId);
  if (commIds == nullptr) return failf(mixcclInvalidArgument, "%s: commIds is NULL", fn);
  for (int i = 1; i < nId; ++i) {
    UniqueId unused;
    Result res = decodeUniqueId(commIds[i], &unused);
    if (res != mixcclSuccess) return failf(res, "%s: commIds[%d] is not a valid unique id", fn, i);
  }
  // The root of commIds[0] serves every rank; the other ids are accepted but not used to spread its load yet.
  return initRank(newcomm, nranks, commIds[0], myrank, config, fn);
}

mixcclResult_t mixcclCommInitAll(mixcclComm_t* comms, int ndev, const int* devlist) {
  clearLastError();
  if (comms == nullptr) return fail(mixcclInvalidArgument, "mixcclCommInitAll: comms is NULL");
  if (ndev < 1) return failf(mixcclInvalidArgument, "mixcclCommInitAll: ndev=%d must be >= 1", ndev);
  for (int i = 0; devlist != nullptr && i < ndev; ++i) {
    if (devlist[i] < 0) return failf(mixcclInvalidArgument, "mixcclCommInitAll: devlist[%d]=%d is negative", i, devlist[i]);
  }
  UniqueId id;
  MIXCCL_TRY(createUniqueId(&id));
  Communicator::Options opts;
  opts.timeoutSec = configDouble(cfg::kTimeout);
  // Rank r is bound to devlist[r] (NULL: device r, wrapping around the devices there are, so several ranks may
  // share one GPU); without a usable GPU the ranks are host-memory ranks and devlist is only logged.
  GpuBackend* gpu = nullptr;
  for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
    if (gpu == nullptr) gpu = gpuBackend(t);
  }
  auto deviceOf = [&](int r) {
    if (devlist != nullptr) return devlist[r];
    return gpu != nullptr && gpu->deviceCount() > 0 ? r % gpu->deviceCount() : r;
  };
  // Init is collective: one thread per rank, all at once.
  std::vector<std::unique_ptr<Communicator>> built(ndev);
  std::vector<Result> results(ndev, mixcclSuccess);
  std::vector<std::string> messages(ndev);
  std::vector<std::thread> threads;
  for (int r = 0; r < ndev; ++r) {
    threads.emplace_back([&, r] {
      results[r] = gpu != nullptr ? gpu->setDevice(deviceOf(r)) : mixcclSuccess;
      if (results[r] == mixcclSuccess) results[r] = Communicator::create(id, r, ndev, opts, &built[r]);
      if (results[r] != mixcclSuccess) messages[r] = lastErrorMessage();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < ndev; ++r) {
    if (results[r] != mixcclSuccess) {
      setLastErrorMessage(messages[r]);  // logged on the rank's thread; `built` frees the ranks that succeeded
      return results[r];
    }
  }
  for (int r = 0; r < ndev; ++r) {
    MIXCCL_LOG(kInfo, "mixcclCommInitAll: rank %d of %d on device %d%s", r, ndev, deviceOf(r),
               gpu != nullptr ? "" : " (no GPU: a host-memory rank)");
    auto handle = std::make_unique<mixcclComm>();
    handle->impl = std::move(built[r]);
    comms[r] = handle.release();
  }
  return mixcclSuccess;
}

mixcclResult_t mixcclCommInitFromEnv(mixcclComm_t* comm) {
  clearLastError();
  if (comm == nullptr) return fail(mixcclInvalidArgument, "mixcclCommInitFromEnv: comm (output pointer) is NULL");
  UniqueId id;
  int rank = -1, nranks = 0;
  MIXCCL_TRY(uniqueIdFromEnv(&id, &rank, &nranks));
  mixcclUniqueId raw;
  encodeUniqueId(id, &raw);
  return initRank(comm, nranks, raw, rank, nullptr, "mixcclCommInitFromEnv");
}

mixcclResult_t mixcclCommFinalize(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclCommFinalize"));
  if (comm->impl->finalized) return fail(mixcclInvalidUsage, "mixcclCommFinalize: communicator already finalized");
  // Host-memory collectives complete before they return; stream-ordered ones are done once the proxy drained.
  comm->impl->drainStaged();
  comm->impl->finalized = true;
  return mixcclSuccess;
}

mixcclResult_t mixcclCommDestroy(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(checkHandle(comm, "mixcclCommDestroy"));
  releaseComm(comm, false);
  return mixcclSuccess;
}

mixcclResult_t mixcclCommAbort(mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(checkHandle(comm, "mixcclCommAbort"));
  releaseComm(comm, true);
  return mixcclSuccess;
}

mixcclResult_t mixcclCommCount(const mixcclComm_t comm, int* count) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclCommCount"));
  if (count == nullptr) return fail(mixcclInvalidArgument, "mixcclCommCount: count is NULL");
  *count = comm->impl->nranks();
  return mixcclSuccess;
}

mixcclResult_t mixcclCommUserRank(const mixcclComm_t comm, int* rank) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclCommUserRank"));
  if (rank == nullptr) return fail(mixcclInvalidArgument, "mixcclCommUserRank: rank is NULL");
  *rank = comm->impl->rank();
  return mixcclSuccess;
}

mixcclResult_t mixcclCommDevice(const mixcclComm_t comm, int* device) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclCommDevice"));
  if (device == nullptr) return fail(mixcclInvalidArgument, "mixcclCommDevice: device is NULL");
  if (comm->impl->device() < 0) {
    return failf(mixcclInvalidUsage, "mixcclCommDevice: rank %d's communicator has no GPU (no usable CUDA or HIP "
                 "device was current when it was created)", comm->impl->rank());
  }
  *device = comm->impl->device();
  return mixcclSuccess;
}

mixcclResult_t mixcclCommGetAsyncError(mixcclComm_t comm, mixcclResult_t* asyncError) {
  clearLastError();
  MIXCCL_TRY(checkHandle(comm, "mixcclCommGetAsyncError"));
  if (asyncError == nullptr) return fail(mixcclInvalidArgument, "mixcclCommGetAsyncError: asyncError is NULL");
  *asyncError = asyncState(comm);
  return mixcclSuccess;
}

}  // extern "C"

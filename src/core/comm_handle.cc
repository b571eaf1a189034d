#include "core/comm_handle.h"

#include <cstddef>
#include <optional>
#include <string>

#include "core/group.h"
#include "core/log.h"
#include "core/pre_mul_sum.h"
#include "device/deferred_free.h"

mixcclComm::mixcclComm() = default;
mixcclComm::~mixcclComm() = default;

namespace mixccl {
namespace {

// Moves the result of a finished non-blocking init into the handle (a failed init stays pending, with its error).
Result adopt(mixcclComm* comm) {
  std::unique_ptr<Communicator> built;
  MIXCCL_TRY(comm->pending->wait(&built));
  comm->impl = std::move(built);
  comm->pending.reset();
  return mixcclSuccess;
}

}  // namespace

Result checkHandle(const mixcclComm* comm, const char* fn) {
  if (comm == nullptr) return failf(mixcclInvalidArgument, "%s: comm is NULL", fn);
  if (comm->magic != mixcclComm::kMagic || (!comm->impl && !comm->pending)) {
    return failf(mixcclInvalidArgument, "%s: comm is not a live communicator (destroyed or corrupted?)", fn);
  }
  return mixcclSuccess;
}

Result readyComm(mixcclComm* comm, const char* fn) {
  MIXCCL_TRY(checkHandle(comm, fn));
  if (!comm->pending) return mixcclSuccess;
  Result res = adopt(comm);
  if (res != mixcclSuccess) {
    // Logged on the init thread already: only this call's name is added to the last-error message.
    setLastErrorMessage(std::string(fn) + ": the communicator's non-blocking init failed: " + lastErrorMessage());
  }
  return res;
}

Result asyncState(mixcclComm* comm) {
  if (comm->pending) {
    if (comm->pending->running()) return mixcclInProgress;
    std::string keep = lastErrorMessage();
    Result res = adopt(comm);
    if (res != mixcclSuccess) return res;
    setLastErrorMessage(keep);
  }
  return comm->impl->asyncError();
}

namespace {

// How long an abort waits for the GPU frees it handed to the background thread.
constexpr double kAbortFreeWaitSec = 2.0;

void releaseHandle(mixcclComm* comm, bool abort) {
  if (comm->pending) {
    comm->pending->abandon(abort);
    comm->pending.reset();
  }
  if (comm->impl && abort) comm->impl->notifyAbort();
  comm->magic = 0;
  delete comm;
}

}  // namespace

void releaseComm(mixcclComm* comm, bool abort) {
  {
    // After an abort some stream may wait for what this thread does next (device/deferred_free.h).
    std::optional<DeferGpuFrees> inBackground;
    if (abort) inBackground.emplace();
    releaseHandle(comm, abort);
  }
  // Usually the device drains at once, and the memory is gone when the abort returns.
  if (abort && !waitForDeferredGpuFrees(kAbortFreeWaitSec)) {
    MIXCCL_LOG(kWarn, "mixcclCommAbort: GPU memory frees still wait for every stream of the GPU to finish what was "
               "queued before them (is a stream held?); a background thread makes them once it has");
  }
}

Result optionsFrom(const mixcclConfig_t* config, const char* fn, Communicator::Options* opts, bool* blocking) {
  *blocking = true;
  if (config == nullptr) return mixcclSuccess;
  if (config->magic != MIXCCL_CONFIG_MAGIC || config->size < offsetof(mixcclConfig_t, timeoutMs) + sizeof(int)) {
    return failf(mixcclInvalidArgument, "%s: config was not initialised with MIXCCL_CONFIG_INITIALIZER (bad magic or "
                 "size)", fn);
  }
  if (config->blocking != MIXCCL_CONFIG_UNDEF_INT && config->blocking != 0 && config->blocking != 1) {
    return failf(mixcclInvalidArgument, "%s: config.blocking=%d (use 0 or 1)", fn, config->blocking);
  }
  if (config->timeoutMs != MIXCCL_CONFIG_UNDEF_INT) {
    if (config->timeoutMs <= 0) return failf(mixcclInvalidArgument, "%s: config.timeoutMs=%d must be > 0", fn,
                                             config->timeoutMs);
    opts->timeoutSec = config->timeoutMs / 1000.0;
  }
  if (config->commName != nullptr) opts->name = config->commName;
  *blocking = config->blocking != 0;
  return mixcclSuccess;
}

Result runCreate(mixcclComm_t* out, AsyncInit::Create create, bool blocking) {
  auto publish = [out](std::unique_ptr<Communicator> built) {
    if (!built) {
      *out = nullptr;
      return;
    }
    auto handle = std::make_unique<mixcclComm>();
    handle->impl = std::move(built);
    *out = handle.release();
  };
  if (inGroup()) {
    deferInit([create, publish]() -> Result {
      std::unique_ptr<Communicator> built;
      MIXCCL_TRY(create(&built));
      publish(std::move(built));
      return mixcclSuccess;
    });
    return mixcclSuccess;
  }
  if (!blocking) {
    auto handle = std::make_unique<mixcclComm>();
    handle->pending = AsyncInit::start(std::move(create));
    *out = handle.release();
    return mixcclInProgress;
  }
  std::unique_ptr<Communicator> built;
  MIXCCL_TRY(create(&built));
  publish(std::move(built));
  return mixcclSuccess;
}

}  // namespace mixccl

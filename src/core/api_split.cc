// C API: communicators made from an existing one (split, shrink; core/comm_split.h).
#include <algorithm>
#include <vector>

#include "core/comm_handle.h"
#include "core/comm_split.h"
#include "core/device_launch.h"

using namespace mixccl;

extern "C" {

mixcclResult_t mixcclCommSplit(mixcclComm_t comm, int color, int key, mixcclComm_t* newcomm, mixcclConfig_t* config) {
  clearLastError();
  const char* fn = "mixcclCommSplit";
  MIXCCL_TRY(readyComm(comm, fn));
  if (newcomm == nullptr) return failf(mixcclInvalidArgument, "%s: newcomm (output pointer) is NULL", fn);
  Communicator* parent = comm->impl.get();
  Communicator::Options opts = parent->options();
  bool blocking = true;
  MIXCCL_TRY(optionsFrom(config, fn, &opts, &blocking));
  parent->drainStaged();  // the split talks over the parent's bootstrap, which its proxy's calls may use
  // Always completes before returning (or in GroupEnd): a valid outcome of a non-blocking split.
  return runCreate(newcomm, [parent, color, key, opts](std::unique_ptr<Communicator>* out) {
    return splitCommunicator(*parent, color, key, opts, out);
  }, true);
}

mixcclResult_t mixcclCommShrink(mixcclComm_t comm, int* excludeRanksList, int excludeRanksCount,
                                mixcclComm_t* newcomm, mixcclConfig_t* config, int shrinkFlags) {
  clearLastError();
  const char* fn = "mixcclCommShrink";
  // The parent may have failed (that is what shrinking is for): only its handle must be live.
  MIXCCL_TRY(readyComm(comm, fn));
  if (newcomm == nullptr) return failf(mixcclInvalidArgument, "%s: newcomm (output pointer) is NULL", fn);
  if (shrinkFlags != MIXCCL_SHRINK_DEFAULT && shrinkFlags != MIXCCL_SHRINK_ABORT) {
    return failf(mixcclInvalidArgument, "%s: shrinkFlags=%d (use MIXCCL_SHRINK_DEFAULT or MIXCCL_SHRINK_ABORT)", fn,
                 shrinkFlags);
  }
  Communicator* parent = comm->impl.get();
  if (excludeRanksCount < 0 || excludeRanksCount >= parent->nranks()) {
    return failf(mixcclInvalidArgument, "%s: excludeRanksCount=%d must be in [0, %d)", fn, excludeRanksCount,
                 parent->nranks());
  }
  if (excludeRanksCount > 0 && excludeRanksList == nullptr) {
    return failf(mixcclInvalidArgument, "%s: excludeRanksList is NULL", fn);
  }
  std::vector<int> excluded(excludeRanksList, excludeRanksList + excludeRanksCount);
  std::sort(excluded.begin(), excluded.end());
  for (size_t i = 0; i < excluded.size(); ++i) {
    if (excluded[i] < 0 || excluded[i] >= parent->nranks()) {
      return failf(mixcclInvalidArgument, "%s: excluded rank %d is outside [0, %d)", fn, excluded[i], parent->nranks());
    }
    if (i > 0 && excluded[i] == excluded[i - 1]) {
      return failf(mixcclInvalidArgument, "%s: rank %d is excluded twice", fn, excluded[i]);
    }
    if (excluded[i] == parent->rank()) {
      return failf(mixcclInvalidUsage, "%s: rank %d excludes itself (only surviving ranks call shrink)", fn,
                   excluded[i]);
    }
  }
  Communicator::Options opts = parent->options();
  bool blocking = true;
  MIXCCL_TRY(optionsFrom(config, fn, &opts, &blocking));
  // Stream-ordered calls still queued: abort mode makes them fail now, the default lets them end first.
  if (shrinkFlags == MIXCCL_SHRINK_ABORT) parent->cancelStaged();
  parent->drainStaged();
  return runCreate(newcomm, [parent, excluded, opts](std::unique_ptr<Communicator>* out) {
    return shrinkCommunicator(*parent, excluded, opts, out);
  }, true);
}

}  // extern "C"

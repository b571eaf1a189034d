#pragma once
// The life of a C communicator handle (mixcclComm): checking a handle an API call received, reading a config
// into Communicator options, and running a creation now, deferred to GroupEnd, or in the background
// (config.blocking = 0: see mixccl.h for what other calls do meanwhile).
#include "core/async_init.h"
#include "core/communicator.h"

namespace mixccl {

// A handle given to `fn` that is not NULL and not destroyed (it may still be initializing, or have failed to).
Result checkHandle(const mixcclComm* comm, const char* fn);

// A handle whose communicator is ready: like checkHandle, then waits for a non-blocking init still running;
// returns its error if it failed.
Result readyComm(mixcclComm* comm, const char* fn);

// The state of the handle's init (without waiting): mixcclInProgress, the init's error, or the communicator's
// first asynchronous error (mixcclSuccess when none).
Result asyncState(mixcclComm* comm);

// Frees the handle (Destroy, or Abort: peers are told this rank leaves). A handle still initializing is handed
// to its init thread, which frees what it builds when the init ends; that is never waited for. An abort's GPU frees
// are made by a background thread (device/deferred_free.h), waited for up to 2 s (a warning says when they are not
// done by then).
void releaseComm(mixcclComm* comm, bool abort);

// Applies `config` (NULL: nothing) on top of *opts (filled by the caller with the defaults, or a parent's
// options). *blocking is false only for config->blocking == 0. Errors name `fn`.
Result optionsFrom(const mixcclConfig_t* config, const char* fn, Communicator::Options* opts, bool* blocking);

// Runs `create` and hands its result out as a handle in *out (NULL when it builds no communicator): inside a
// group deferred to GroupEnd; else with blocking now; else in the background, returning mixcclInProgress with
// *out set at once.
Result runCreate(mixcclComm_t* out, AsyncInit::Create create, bool blocking);

}  // namespace mixccl

#pragma once
// Freeing GPU memory without making the calling thread wait for the whole device.
//
// cudaFree and cudaFreeHost (hipFree, hipHostFree) first wait until every stream of the context has run what was
// queued before them (implicit synchronisation). A thread that frees while some stream waits for something only that
// thread would do later waits for ever: the next call of a peer rank it drives, the application's own flag or event
// after mixcclCommAbort returns (NVIDIA/nccl issue 48 is this hang). So teardown after an abort, and the staging
// pool's trimming while calls are in flight, free through freeGpuMemory: inside a DeferGpuFrees scope the free is
// handed to one background thread of the process, which makes it once the device has drained; outside one it is made
// at once, on the calling thread.
//
// Contract: thread-safe. Handed-off frees are made in the order given, with the device current at the hand-off made
// current first; a failure is logged by the backend. The background thread is never joined: at process exit a free
// that still waits for the device is abandoned with the process (its memory goes with it).
#include "device/gpu_backend.h"

namespace mixccl {

enum class GpuFreeKind {
  kDevice,      // allocDevice's: freeDevice
  kPinned,      // allocPinned's: freePinned
  kRegistered,  // hostRegister's range: hostUnregister
  kImported,    // ipcImport's mapping: ipcClose
};

// Frees `ptr` (nullptr: nothing) with `gpu`, now or, inside a DeferGpuFrees scope on this thread, in the background.
void freeGpuMemory(GpuBackend* gpu, GpuFreeKind kind, void* ptr);

// While one exists on a thread, that thread's freeGpuMemory calls hand their frees to the background thread. Scopes
// nest.
class DeferGpuFrees {
 public:
  DeferGpuFrees();
  ~DeferGpuFrees();
  DeferGpuFrees(const DeferGpuFrees&) = delete;
  DeferGpuFrees& operator=(const DeferGpuFrees&) = delete;
};

// Blocks until every free handed off so far has been made, or `timeoutSec` passed; false on timeout (tests).
bool waitForDeferredGpuFrees(double timeoutSec);

}  // namespace mixccl

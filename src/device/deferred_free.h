#pragma once
// Freeing GPU memory without making the calling thread wait for the whole device.
//
// cudaFree and cudaFreeHost (hipFree, hipHostFree) first wait until every stream of the context has run what was
// queued before them (implicit synchronisation). A thread that frees while some stream waits for something only that
// thread would do later waits for ever: the next call of a peer rank it drives, the application's own flag or event
// after mixcclCommAbort returns (NVIDIA/nccl issue 48 is this hang). Worse, while a free waits so it holds a lock of
// the driver that every other thread's launch, copy and allocation takes: a free on ANY thread stops the whole
// process's enqueueing until the device drains (a concurrent cuMemFree was seen blocking another thread's copy; on an
// H200, run 7 of perf/RESULTS.md, two ranks hung where the staging pool handed a free here while the other rank's
// call waited for its next). So nothing may be freed while a stream may wait for a host thread's next call: the
// staging pool keeps its buffers while its communicator lives. Teardown after an abort frees through freeGpuMemory:
// inside a DeferGpuFrees scope the free is handed to one background thread of the process, which first waits for the
// device to drain with a plain synchronisation (GpuBackend::deviceSynchronize, taken to hold nothing up) and only then
// frees; outside one it is made at once, on the calling thread. A stream held for good thus keeps the memory allocated without stopping the other threads. Work enqueued
// between that synchronisation and the free is still waited for under the lock. (Unregistering host memory is not
// deferred: what it unregisters is unmapped right after, in order.)
//
// Contract: thread-safe. Handed-off frees are made in the order given, each with its device current; a failure is
// logged by the backend. One that never returns (a stream held for good) holds up those after it, which then stay
// allocated. The background thread is never joined: a fork's child starts its own (the parent's pending frees are not
// the child's to make), and once the exit handler it registers at the first hand-off has run, it makes no further
// free (one under way goes on).
#include "device/gpu_backend.h"

namespace mixccl {

enum class GpuFreeKind {
  kDevice,    // allocDevice's: freeDevice
  kPinned,    // allocPinned's: freePinned
  kImported,  // ipcImport's mapping: ipcClose
};

// Frees `ptr` (nullptr: nothing) with `gpu`, now or, inside a DeferGpuFrees scope on this thread, in the background;
// with `device` (>= 0) current for the free, else the device current on the calling thread now.
void freeGpuMemory(GpuBackend* gpu, GpuFreeKind kind, void* ptr, int device = -1);

// While one exists on a thread, that thread's freeGpuMemory calls hand their frees to the background thread. Scopes
// nest.
class DeferGpuFrees {
 public:
  DeferGpuFrees();
  ~DeferGpuFrees();
  DeferGpuFrees(const DeferGpuFrees&) = delete;
  DeferGpuFrees& operator=(const DeferGpuFrees&) = delete;
};

// Blocks until every free handed off so far has been made, or `timeoutSec` passed; false on timeout.
bool waitForDeferredGpuFrees(double timeoutSec);

}  // namespace mixccl

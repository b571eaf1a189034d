#pragma once
// Staged calls whose arithmetic runs on the rank's own GPU (issue 5: GPU ranks whose peers are reached through a
// transport's host slots, peers on other hosts above all).
//
// The staged path (core/device_launch.h) otherwise meets the peers in host memory: it copies the inputs to pinned
// staging memory, the host engine runs the call there (the CPU reduces), and it copies the outputs back. With
// device steps, the proxy thread runs the call's plan on the user's device buffers themselves: each step's reduce
// or copy reads the received chunk straight out of the transport's receive slot and the local chunk out of device
// memory, and writes the result to device memory and/or straight into the send slot. The slots are the pinned
// staging buffers: the transports' slot memory, registered with the GPU (GpuBackend::hostRegister). Nothing is
// copied in or out as a whole, and the chunks pipeline: the executor hands a slot back as soon as the step that
// uses it is done, so while chunk k is reduced the transport carries chunk k-1 on and receives chunk k+1.
//
// The proxy makes no GPU runtime call. The user's thread, when it enqueues the call, launches a step server on the
// call's stream (kernels/step_server_kernel.h: a kernel that runs, in order, the arithmetic commands written into a
// queue in pinned memory, kernels/step_queue.h) and reserves the job's device scratch. The proxy then writes one
// command per step and learns that a step is done from a word the kernel writes. (Launching kernels from the
// proxy, the first design, hung on an H200: a thread blocked in a copy into pageable memory whose stream waits for
// the call, as `tensor.cpu()` makes, held the proxy's launches up in the runtime; perf/RESULTS.md, runs 3 and 4.)
// The server spins on its stream while it waits for the peers' chunks, on kStepServerBlocks blocks. Ranks as threads
// of one process still must not block in a copy into pageable memory while a call of theirs is pending: such a copy
// holds the runtime, so the other ranks' threads could not launch their servers, which the call waits for (the
// tests' copies are pinned there; the GPU emulation holds its runtime lock the same way).
//
// MIXCCL_DEVICE_STEPS: "0" (default, until the step server has run on a GPU) never; "auto" where some peer is on another host and no other process of the
// communicator shares the rank's GPU without MPS (a waiting server would hold the GPU through its time slices); "1"
// whenever the communicator stages a call. They need every transport in use to expose its slot memory and the
// device to map registered host memory at the same address; where that fails the communicator says why once (INFO)
// and stages through host memory. The results are bitwise those of the host path: the same plan combines the same
// operands in the same order, and the kernels round as the CPU does (tests/unit/kernel_arith_test).
//
// Contract: one DeviceSteps per communicator (owned by its StagedRuntime). create(), reserve(), launch() and the
// destructor run on the user's thread (any thread for create and the destructor) with the communicator's device
// current; beginJob(), device(), scratch() and endJob() on the proxy thread, which never calls the GPU runtime.
// Jobs run in the order they were launched: beginJob gets the ids launch() handed out, in that order.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/group.h"
#include "device/gpu_backend.h"
#include "device/kernels/step_queue.h"
#include "engine/step_device.h"
#include "transports/transport.h"

namespace mixccl {

class DeviceSteps {
 public:
  // Registers the slot memory of `transports` with `gpu` (its current device: the steps' own) and allocates the
  // command queue. *out stays null, with the reason in *why, where device steps cannot be used (a transport without
  // slot memory, a device that cannot map registered host memory in place, a registration or allocation that
  // failed). `timeoutSec`: how long the proxy waits for the GPU before it gives a job up.
  static void create(GpuBackend* gpu, const std::vector<Transport*>& transports, double timeoutSec,
                     std::unique_ptr<DeviceSteps>* out, std::string* why);
  ~DeviceSteps();  // unregisters and frees everything (the servers of finished jobs have exited)
  DeviceSteps(const DeviceSteps&) = delete;
  DeviceSteps& operator=(const DeviceSteps&) = delete;

  // ---- The user's thread, when it enqueues a job with device-step calls.
  // Device scratch of at least `bytes` for the job (allocated here if no free arena is large enough); *arena
  // names it for beginJob (-1 for none when bytes is 0).
  Result reserve(size_t bytes, int* arena);
  // Launches the job's step server on `stream`, after the work already queued there; *job is the job's id.
  Result launch(void* stream, uint32_t* job);
  // Gives back an arena of a job that will not run (its launch failed).
  void unreserve(int arena);

  // ---- The proxy thread.
  // Starts job `job` (launch()'s id), with scratch from `arena` (reserve()'s, or -1).
  void beginJob(uint32_t job, int arena);
  // Where the executors of the job's calls do their arithmetic: commands to the server.
  StepDevice& device();
  // Device memory of `bytes` for one executor of the running job, from its arena (an error past its size).
  Result scratch(size_t bytes, void** out);
  // Waits until the server has run every command of the job (bounded by the timeout: a server whose stream never
  // reaches it), then ends it and gives the arena back. A job that failed is ended the same way: the user's
  // stream must not go on while the server can still touch the buffers.
  Result endJob();

 private:
  class Commands;
  struct Arena {
    size_t bytes = 0;
    void* base = nullptr;
    bool busy = false;
  };
  DeviceSteps() = default;
  GpuBackend* gpu_ = nullptr;
  double timeoutSec_ = 0;
  kernels::StepQueue* queue_ = nullptr;  // pinned
  uint64_t* counter_ = nullptr;         // device memory
  std::unique_ptr<Commands> device_;
  std::vector<void*> registered_;
  std::mutex arenaMu_;  // arenas_: reserved by the user's thread, given back by the proxy
  std::vector<Arena> arenas_;
  uint32_t launched_ = 0;  // the last job id handed out (user's thread)
  int jobArena_ = -1;      // the running job's (proxy)
  size_t arenaUsed_ = 0;
  // Job timing, logged at teardown beside the commands' (Commands::timingReport): when each recent job was launched
  // (steady-clock ns, by job % kStepExitSlots; written by the user's thread), when the running one began (proxy), and
  // the sums over the jobs: from launch to the proxy's start, and from that start to the job's end.
  std::atomic<int64_t> launchedNs_[kernels::kStepExitSlots] = {};
  int64_t jobBeganNs_ = 0;
  double waitUs_ = 0, runUs_ = 0;
  uint64_t jobsTimed_ = 0;
};

// Whether MIXCCL_DEVICE_STEPS asks for device steps on a communicator: "1" always, "0" (default) never, "auto"
// where some peer is on another host (`remotePeers`) and the rank's GPU does not time-slice between processes
// (`timeSliced`: every step would wait for a context switch; on an H200, 2 processes ran an 8 MiB all-reduce 9x
// slower with device steps than staged through the CPU: perf/RESULTS.md).
bool deviceStepsWanted(bool remotePeers, bool timeSliced);
// Whether `call` can run with device steps: every buffer it uses is memory of GPU `device` (the steps' own), and
// no pre-mul-sum.
bool deviceStepsFit(const CollCall& call, int device);

}  // namespace mixccl

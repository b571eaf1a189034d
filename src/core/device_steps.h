#pragma once
// Staged calls whose arithmetic runs on the rank's own GPU (issue 5: GPU ranks whose peers are reached through a
// transport's host slots, peers on other hosts above all).
//
// The staged path (core/device_launch.h) otherwise meets the peers in host memory: it copies the inputs to pinned
// staging memory, the host engine runs the call there (the CPU reduces), and it copies the outputs back. With
// device steps, the proxy thread runs the call's plan on the user's device buffers themselves. Each step is
// enqueued on the runtime's own stream as a reduce kernel, or a copy, that reads the received chunk straight out
// of the transport's receive slot and the local chunk out of device memory, and writes the result to device
// memory and/or straight into the send slot. The slots are the pinned staging buffers: the transports' slot
// memory, registered with the GPU (GpuBackend::hostRegister). Nothing is copied in or out as a whole, and the
// chunks pipeline: the executor hands a slot back as soon as the kernel that uses it is done, so while chunk k is
// reduced the transport carries chunk k-1 on and receives chunk k+1 into the other slots.
//
// Hazard, why they are off by default: the proxy thread launches the kernels while the user's stream waits for the
// call. A thread of the process that is blocked in a synchronous CUDA call whose stream waits for that call (a copy
// into pageable memory, as `tensor.cpu()` makes) can hold up the proxy's launches in the runtime, and so wait for
// ever. On the H200 (perf/RESULTS.md, runs 3 and 4) 4 processes with results copied back into pageable memory never
// finished, with each main thread spinning and each proxy thread blocked in a futex; the perf tools, whose copies are
// pinned, ran exactly. The way out is a proxy that makes no CUDA call: steps enqueued by the user's thread at the
// call, each waiting on the stream for a host word the proxy writes.
//
// MIXCCL_DEVICE_STEPS: "0" (default) never; "auto" where some peer is on another host and no other process of the
// communicator shares the rank's GPU without MPS; "1" whenever the communicator
// stages a call, "0" never. They need every transport in use to expose its slot memory and the device to map
// registered host memory at the same address; where that fails the communicator says why once (INFO) and stages
// through host memory. The results are bitwise those of the host path: the same plan combines the same operands in
// the same order, and the kernels round as the CPU does (tests/unit/kernel_arith_test).
//
// Contract: one DeviceSteps per communicator (owned by its StagedRuntime). create() and the destructor run on any
// thread with the communicator's device current; everything else on the proxy thread, with that device current.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/group.h"
#include "device/gpu_backend.h"
#include "engine/step_device.h"
#include "transports/transport.h"

namespace mixccl {

class DeviceSteps {
 public:
  // Registers the slot memory of `transports` with `gpu` (its current device: the steps' own) and creates the
  // stream. *out stays null, with the reason in *why, where device steps cannot be used (a transport without slot
  // memory, a device that cannot map registered host memory in place, a registration that failed).
  static void create(GpuBackend* gpu, const std::vector<Transport*>& transports, std::unique_ptr<DeviceSteps>* out,
                     std::string* why);
  ~DeviceSteps();  // waits for the stream, then unregisters and frees everything
  DeviceSteps(const DeviceSteps&) = delete;
  DeviceSteps& operator=(const DeviceSteps&) = delete;

  // Where the executors of device-step calls do their arithmetic.
  StepDevice& device() { return *device_; }
  // Device memory of at least `bytes` for one call of the running job (a plan's scratch); valid until
  // releaseScratch(), which the job calls when it ends.
  Result scratch(size_t bytes, void** out);
  void releaseScratch();
  // Waits until the GPU has done everything enqueued (a job that failed may have left work queued: the user's
  // stream must not go on while it can still touch the buffers). Bounded by that work alone: the steps' stream
  // never waits for the host or a peer. Errors are logged by the backend.
  Result drain();

 private:
  DeviceSteps() = default;
  GpuBackend* gpu_ = nullptr;
  void* stream_ = nullptr;
  std::unique_ptr<StepDevice> device_;
  std::vector<void*> registered_;
  std::multimap<size_t, void*> freeScratch_;  // by size
  std::vector<std::pair<size_t, void*>> usedScratch_;
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

#pragma once
// A GpuBackend that runs on the host, so the engine's GPU paths (stream-ordered calls, staging, the proxy) are
// tested on machines without a GPU. Installed as the CUDA backend (or the HIP one: a mixed-vendor communicator) with
// setGpuBackendForTesting.
//
// * "Device memory" is host memory this backend allocated; queryPointer reports it as CUDA (HIP) memory of device 0.
//   Pinned memory is host memory it allocated, reported as pinned host memory; so is host memory given to
//   hostRegister. Kernels (reduce, post-op, copy kernel, n-input reduce) may touch only those three kinds: any
//   other pointer is an error at launch, as a real device would fault on it. Host threads, in turn, fault on device
//   memory (support/device_memory_guard.h, where the CPU has protection keys): only the streams may touch it.
// * A stream is a worker thread running its operations in order; nullptr is one default stream. Operations are
//   the host build of the kernel source (kernels::host), memcpy, event records and waits. Destroying a stream returns
//   at once, as CUDA's; it goes once its work is done. So does an event: queued records and waits of a destroyed one
//   still run. Streams share hardware queues as a CUDA context's do, a wait
//   at a queue's head holding up the streams behind it (emulateHardwareQueues). Freeing device or pinned memory
//   first waits for every stream to run what was queued before it, as cudaFree and cudaFreeHost do.
// * Every stream operation first sleeps `delayUs`, so that a caller that reads results before the stream ran,
//   or a proxy that runs before its inputs were copied, reads stale data and the test sees it.
// * Device memory is a shared mapping of a memfd; an IPC handle names the exporting process and descriptor, and
//   ipcImport maps it through /proc/<pid>/fd, so processes of one test share device memory as on one GPU.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include "device/gpu_backend.h"

namespace mixccl::testing {

class EmulatedGpu final : public GpuBackend {
 public:
  // `vendor` (kCuda or kHip): the backend it stands for, and the memory type its device pointers report.
  explicit EmulatedGpu(unsigned delayUs, MemoryType vendor = MemoryType::kCuda);
  ~EmulatedGpu() override;

  MemoryType memoryType() const override { return vendor_; }
  const char* name() const override { return vendor_ == MemoryType::kHip ? "emulated-gpu-hip" : "emulated-gpu"; }
  void reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override;
  void postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  Result allocScratch(size_t bytes, void** out) override { return allocDevice(bytes, out); }
  void freeScratch(void* ptr) override { freeDevice(ptr); }

  int deviceCount() const override { return 1; }
  Result currentDevice(int* out) override;
  Result setDevice(int device) override;
  // Marks the kernels loaded (the emulation's context always exists, so onlyIfStarted changes nothing); until
  // then the first kernel launch emulates lazy loading (see loadOnFirstLaunch).
  Result loadKernels(bool onlyIfStarted) override;
  // The one emulated device of its vendor: in use (its context started) unless a test said otherwise.
  std::string busIdInUse(int) override {
    if (!inUse_.load()) return "";
    return vendor_ == MemoryType::kHip ? "emulated-hip:0" : "emulated:0";
  }
  // As a process that has not used its GPU yet (false): busIdInUse() then says so.
  void setInUse(bool inUse) { inUse_.store(inUse); }
  Result queryPointer(const void* ptr, PointerInfo* out) override;
  Result allocDevice(size_t bytes, void** out) override;
  Result freeDevice(void* ptr) override;
  Result allocPinned(size_t bytes, void** out) override;
  Result freePinned(void* ptr) override;
  Result hostRegister(void* ptr, size_t bytes) override;
  Result hostUnregister(void* ptr) override;
  // True unless a test said otherwise (host memory is the emulation's device memory): a device that cannot, as
  // ROCm's by its attribute, makes the library stage through host memory instead of using device steps.
  bool mapsHostMemoryInPlace() override { return mapsHostInPlace_.load(); }
  // As CUDA's: CUDA_DEVICE_MAX_CONNECTIONS, 8 unless set; `queues` once emulateHardwareQueues(queues) ran.
  int hardwareQueues() const override;
  // From now on the default stream and every stream created later share `queues` hardware queues, assigned round
  // robin in order of creation (the default stream first), as a CUDA context's connections: each queue hands its
  // operations on in the order they were enqueued, each once its own stream's previous one is done, and a stream wait
  // (on a flag or an event) holds its queue until it passes. Kernels, copies and flag writes do not hold it. Without
  // this every stream is a queue of its own. Call it before the streams it should cover are created, and before other
  // threads use the GPU; a later call takes over for the streams created after it (queues <= 0: no change).
  // installEmulatedGpu makes the first call, with hardwareQueues() (the environment's CUDA_DEVICE_MAX_CONNECTIONS, 8
  // unless set) or MIXCCL_TEST_EMULATED_QUEUES (0: a queue per stream).
  void emulateHardwareQueues(int queues);
  void setMapsHostMemoryInPlace(bool maps) { mapsHostInPlace_.store(maps); }
  // Copies from host to device memory enqueued from now on take `us` longer than the others (0: no longer), as
  // that direction is the slower one on an H100 (43 against 55 GB/s): a path that reuses host memory before its
  // copy to the device is done reads changed data.
  void setHostToDeviceDelayUs(unsigned us) { hostToDeviceDelayUs_.store(us); }
  Result copyAsync(void* dst, const void* src, size_t bytes, void* stream) override;
  Result copyKernelAsync(void* dst, const void* src, size_t bytes, void* stream) override;
  Result reduceAsync(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec,
                     void* stream) override;
  Result postOpAsync(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream) override;
  Result reduceNAsync(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec,
                      void* stream) override;
  Result launchStepServer(kernels::StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) override;
  Result fusedAsync(const kernels::FusedArgs& args, const ReduceSpec& spec, void* stream) override;
  Result reduceToAllAsync(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                          void* stream) override;
  Result streamWaitFlag(void* stream, const uint32_t* flag, uint32_t value) override;
  Result streamWriteFlag(void* stream, uint32_t* flag, uint32_t value) override;
  Result streamCreate(void** out) override;
  Result streamDestroy(void* stream) override;
  Result streamSynchronize(void* stream) override;
  Result deviceSynchronize() override;
  Result eventCreate(void** out) override;
  Result eventDestroy(void* event) override;
  Result eventRecord(void* event, void* stream) override;
  Result streamWaitEvent(void* stream, void* event) override;
  Result eventQuery(void* event, bool* done) override;
  Result ipcExport(const void* base, IpcHandle* out) override;
  Result ipcImport(const IpcHandle& handle, void** out) override;
  Result ipcClose(void* mapped) override;
  Result stickyError() const override { return mixcclSuccess; }

  // How many n-input reduces were enqueued (only gpu_ipc uses them): tests see which path ran.
  size_t reduceNCalls() const { return reduceNCalls_.load(); }
  // Elements combined by reduceNAsync so far (outputs, summed over the calls).
  size_t reduceNElements() const { return reduceNElements_.load(); }
  // How many copies (copyAsync) were enqueued.
  size_t copyCalls() const { return copyCalls_.load(); }
  // How many of them had a side in pageable host memory (neither device, pinned nor registered): a real runtime
  // stages those itself and may block the caller until the stream reaches them.
  size_t pageableCopies() const { return pageableCopies_.load(); }
  // How many two-input reduce kernels were enqueued (device steps use them; the host-staged path never does).
  size_t reduceCalls() const { return reduceCalls_.load(); }
  // How many step servers (device steps' kernels, one per job) were launched, and how many of their commands
  // touched memory a device could not reach (skipped, as a fault).
  size_t stepServers() const { return stepServers_.load(); }
  size_t stepFaults() const { return stepFaults_.load(); }
  // How many reduce-to-all kernels were enqueued (gpu_ipc's direct rounds).
  size_t reduceToAllCalls() const { return reduceToAllCalls_.load(); }
  // How many fused one-shot and fused direct kernels were enqueued (gpu_ipc's fused rounds).
  size_t oneShotCalls() const { return oneShotCalls_.load(); }
  size_t fusedDirectCalls() const { return fusedDirectCalls_.load(); }
  // The most pinned memory held at once so far.
  size_t peakPinnedBytes() const { return peakPinned_.load(); }
  // Device allocations and imported mappings not freed yet (leak checks).
  size_t liveDeviceAllocations();
  // Pinned allocations not freed yet.
  size_t livePinnedAllocations();
  // Host ranges registered with hostRegister and not unregistered yet.
  size_t liveHostRegistrations();

  class Stream;
  class HardwareQueue;

 private:
  Stream* resolve(void* stream);
  // As the implicit synchronisation of cudaFree and cudaFreeHost: returns once every stream (those being destroyed
  // too) has run what was queued on it before the call. So a stream held by a wait that only the calling thread would
  // release hangs the call, as on a GPU (NVIDIA/nccl issue 48); after 10 s it says so on stderr, naming `call`.
  void synchronizeDevice(const char* call);
  // The emulation of lazy kernel loading at a kernel launch (see the .cc).
  Result loadOnFirstLaunch();
  // A kernel may load and store only device, pinned and registered host memory: any other byte of
  // [ptr, ptr + bytes) is an error naming `what` (a real device faults on it).
  Result checkKernelAccess(const void* ptr, size_t bytes, const char* what);
  // kernels::host::hostStepCheck for the step servers this GPU runs.
  static bool checkStep(void* self, const kernels::StepCommand& command);
  std::mutex mu_;
  // The runtime's own lock, as a real one behaves: a copy from device to pageable memory holds it until the copy is
  // done (after everything queued before it on its stream), and every call that enqueues work (launches, copies,
  // stream memory operations, events) or makes or unmakes something (streams, events, allocations, registrations,
  // IPC mappings) needs it. So a thread blocked in such a copy holds up other threads' launches
  // (seen on an H200: perf/RESULTS.md, runs 3 and 4); queries and synchronisation do not need it. A free (device or
  // pinned) holds it while it waits for every stream to drain, so a free on any thread (device/deferred_free.h's
  // included) stops every other thread's launches and pinned allocations until the device is idle: a stream waiting
  // for one of them then hangs the process (an H200 hung so in run 7: perf/RESULTS.md; the same lock shows in a CUDA
  // free blocking another thread's copy, in public reports).
  std::shared_mutex runtime_;
  std::map<uintptr_t, size_t> device_;  // base -> bytes: own allocations and peers' imported mappings
  std::map<uintptr_t, int> fds_;        // own allocations: base -> memfd
  std::map<uintptr_t, size_t> pinned_;
  std::map<uintptr_t, size_t> registered_;  // hostRegister'ed host ranges
  std::vector<std::unique_ptr<HardwareQueue>> queues_;  // emulateHardwareQueues; before the streams, which use them
  size_t firstQueue_ = 0;                                 // of the latest set; under mu_
  size_t nextQueue_ = 0;                                  // under mu_
  std::atomic<int> activeQueues_{0};                      // the latest set's size
  std::set<Stream*> streams_;
  std::set<Stream*> retiring_;  // destroyed with work left: deleted once it is done (under mu_)
  std::unique_ptr<Stream> default_;
  const unsigned delayUs_;
  const MemoryType vendor_;
  std::atomic<bool> inUse_{true};
  std::atomic<bool> kernelsLoaded_{false};
  std::atomic<bool> mapsHostInPlace_{true};
  std::atomic<size_t> reduceCalls_{0};
  std::atomic<size_t> copyCalls_{0};
  std::atomic<unsigned> hostToDeviceDelayUs_{0};
  std::atomic<size_t> pageableCopies_{0};
  std::atomic<size_t> stepServers_{0};
  std::atomic<size_t> stepFaults_{0};
  std::atomic<size_t> reduceNCalls_{0};
  std::atomic<size_t> reduceNElements_{0};
  std::atomic<size_t> reduceToAllCalls_{0};
  std::atomic<size_t> oneShotCalls_{0};
  std::atomic<size_t> fusedDirectCalls_{0};
  size_t pinnedBytes_ = 0;  // under mu_
  std::atomic<size_t> peakPinned_{0};
};

// Creates the process's emulated GPU of `vendor` (kCuda or kHip) and installs it as that vendor's backend (once
// per process and vendor; later calls return the same object, with the delay of the first). A process may hold
// one of each: pointers report the vendor of the emulation that allocated them.
EmulatedGpu& installEmulatedGpu(unsigned delayUs = 200, MemoryType vendor = MemoryType::kCuda);

}  // namespace mixccl::testing

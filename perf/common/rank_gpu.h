#pragma once
// The memory a rank benchmarks on (--memory): host buffers, or device buffers of a GPU with one stream per rank, as
// nccl-tests use. A RankGpu is opened in the rank's own process (with -N, in the forked child: a GPU runtime
// initialised in the parent would not survive the fork), before the rank's communicator is created, and closed
// after the communicator is destroyed.
#include <string>

#include "common/options.h"
#include "device/gpu_backend.h"

namespace mixccl::perf {

// Finds the GPU a rank may use: nullptr, with the reason in *why, when none is usable. Called in the rank's process.
// The shipped tools probe the library's backends (probeGpu); a test can hand in another (e.g. an emulated GPU).
using GpuProvider = GpuBackend* (*)(std::string* why);

// gpuBackend(kCuda), else gpuBackend(kHip).
GpuBackend* probeGpu(std::string* why);

// Which local rank (index on this host) a process is, for choosing its GPU: the -N index, else the launcher's
// local rank variable (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, LOCAL_RANK), else 0.
int localRankFromEnv();

class RankGpu {
 public:
  RankGpu() = default;
  ~RankGpu();
  RankGpu(const RankGpu&) = delete;
  RankGpu& operator=(const RankGpu&) = delete;

  // Resolves `mode` for this rank: kHost uses no GPU (the provider is not called); kAuto uses the provider's GPU
  // when there is one; kDevice requires one. With a GPU: selects device localRank % deviceCount and creates the
  // rank's stream. Throws PerfError (kDevice without a GPU: with the provider's reason).
  void open(MemoryMode mode, GpuProvider provider, int localRank);

  GpuBackend* gpu() const { return gpu_; }  // nullptr: host memory
  void* stream() const { return stream_; }
  int device() const { return device_; }  // -1: host memory

 private:
  GpuBackend* gpu_ = nullptr;
  void* stream_ = nullptr;
  int device_ = -1;
};

// Device memory of `gpu`'s current device, freed on destruction; none (data() == nullptr) when gpu is nullptr.
class DeviceBuffer {
 public:
  DeviceBuffer(GpuBackend* gpu, size_t bytes);  // throws PerfError
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  char* data() const { return data_; }

 private:
  GpuBackend* gpu_ = nullptr;
  char* data_ = nullptr;
};

}  // namespace mixccl::perf

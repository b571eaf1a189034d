#include "common/rank_gpu.h"

#include <cstdlib>

#include "common/perf_error.h"

namespace mixccl::perf {
namespace {

// Throws PerfError for a failed GpuBackend call (which has already logged the runtime's message).
void checkGpu(Result res, const std::string& what) {
  if (res == mixcclSuccess) return;
  std::string msg = what + ": " + mixcclGetErrorString(res);
  const char* last = mixcclGetLastError(nullptr);
  if (last != nullptr && last[0] != '\0') msg += ": " + std::string(last);
  throw PerfError(msg);
}

}  // namespace

GpuBackend* probeGpu(std::string* why) {
  std::string reasons;
  for (MemoryType type : {MemoryType::kCuda, MemoryType::kHip}) {
    std::string reason;
    if (GpuBackend* gpu = gpuBackend(type, &reason)) return gpu;
    reasons += (reasons.empty() ? "" : "; ") + std::string(memoryTypeName(type)) + ": " + reason;
  }
  *why = reasons;
  return nullptr;
}

int localRankFromEnv() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0') return std::atoi(value);
  }
  return 0;
}

void RankGpu::open(MemoryMode mode, GpuProvider provider, int localRank) {
  if (mode == MemoryMode::kHost) return;
  std::string why;
  GpuBackend* gpu = provider(&why);
  if (gpu == nullptr) {
    if (mode == MemoryMode::kDevice) throw PerfError("--memory device: no usable GPU (" + why + ")");
    return;  // auto: host memory
  }
  int count = gpu->deviceCount();
  if (count <= 0) throw PerfError(std::string(gpu->name()) + ": no device");
  int device = localRank % count;
  checkGpu(gpu->setDevice(device), "selecting device " + std::to_string(device));
  void* stream = nullptr;
  checkGpu(gpu->streamCreate(&stream), "creating the rank's stream");
  gpu_ = gpu;
  stream_ = stream;
  device_ = device;
}

RankGpu::~RankGpu() {
  if (stream_ != nullptr) gpu_->streamDestroy(stream_);  // a failure is logged by the backend
}

DeviceBuffer::DeviceBuffer(GpuBackend* gpu, size_t bytes) {
  if (gpu == nullptr) return;
  void* p = nullptr;
  checkGpu(gpu->allocDevice(bytes == 0 ? 1 : bytes, &p), "allocating " + std::to_string(bytes) + " B of device memory");
  gpu_ = gpu;
  data_ = static_cast<char*>(p);
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) gpu_->freeDevice(data_);
}

}  // namespace mixccl::perf

#include "support/rank_gpu.h"

#include <string>

#include "support/exact_data.h"
#include "support/rank_runner.h"
#include "support/test_gpu.h"

namespace mixccl::testing {

bool RankGpu::open(int rank) {
  std::string why;
  gpu_ = testGpu(&why);
  if (!rankCheck(gpu_ != nullptr, rank, "no GPU: %s", why.c_str())) return false;
  return rankCheck(gpu_->streamCreate(&stream_) == mixcclSuccess, rank, "streamCreate failed");
}

RankGpu::~RankGpu() {
  if (gpu_ == nullptr) return;
  for (void* p : buffers_) gpu_->freeDevice(p);
  if (stream_ != nullptr) gpu_->streamDestroy(stream_);
  if (gate_ != nullptr) gpu_->freePinned(gate_);
}

void* RankGpu::upload(const std::vector<char>& host) {
  void* p = alloc(host.size());
  uploads_.push_back(host);
  gpu_->copyAsync(p, uploads_.back().data(), host.size(), stream_);
  return p;
}

void* RankGpu::alloc(size_t bytes) {
  void* p = nullptr;
  if (gpu_->allocDevice(bytes, &p) != mixcclSuccess) return nullptr;
  buffers_.push_back(p);
  return p;
}

std::vector<char> RankGpu::download(const void* p, size_t bytes) {
  std::vector<char> host(bytes);
  gpu_->copyAsync(host.data(), p, bytes, stream_);
  sync();
  return host;
}

void RankGpu::sync() {
  gpu_->streamSynchronize(stream_);
  uploads_.clear();
}

void RankGpu::closeGate() {
  if (gate_ == nullptr) {
    void* flag = nullptr;
    gpu_->allocPinned(sizeof(uint32_t), &flag);
    gate_ = static_cast<uint32_t*>(flag);
  }
  __atomic_store_n(gate_, 0u, __ATOMIC_RELEASE);
  gpu_->streamWaitFlag(stream_, gate_, 1);
}

void RankGpu::openGate() { __atomic_store_n(gate_, 1u, __ATOMIC_RELEASE); }

bool backToBackAllReduces(RankGpu& g, mixcclComm_t comm, int calls, uint64_t count, int rank, int nranks) {
  std::vector<void*> bufs;
  std::vector<std::vector<char>> wants;
  for (int c = 0; c < calls; ++c) {
    std::vector<char> in(count * 4), want(count * 4);
    testdata::fillInput(in.data(), true, mixcclSum, mixcclInt32, rank, nranks, c * count, count);
    testdata::fillReduced(want.data(), mixcclSum, mixcclInt32, nranks, c * count, count);
    bufs.push_back(g.upload(in));
    wants.push_back(std::move(want));
  }
  g.sync();
  for (int c = 0; c < calls; ++c) {
    if (!rankCheck(mixcclAllReduce(bufs[c], bufs[c], count, mixcclInt32, mixcclSum, comm, g.stream()) ==
                   mixcclSuccess, rank, "call %d: %s", c, mixcclGetLastError(comm))) {
      return false;
    }
  }
  for (int c = 0; c < calls; ++c) {
    std::vector<char> got = g.download(bufs[c], count * 4);
    if (!rankCheck(testdata::countWrong(got.data(), wants[c].data(), mixcclInt32, count) == 0, rank,
                   "call %d: wrong result", c)) {
      return false;
    }
  }
  return true;
}

}  // namespace mixccl::testing

#include "support/rank_gpu.h"

#include <algorithm>
#include <cstring>
#include <list>
#include <string>

#include "core/datatype.h"
#include "engine/coll_args.h"
#include "support/exact_data.h"
#include "support/rank_runner.h"
#include "support/test_gpu.h"

namespace mixccl::testing {

bool RankGpu::open(int rank, size_t pinnedCopyBytes, MemoryType vendor) {
  std::string why;
  gpu_ = testGpu(&why, vendor);
  if (!rankCheck(gpu_ != nullptr, rank, "no GPU: %s", why.c_str())) return false;
  if (pinnedCopyBytes > 0) {
    void* p = nullptr;
    if (!rankCheck(gpu_->allocPinned(pinnedCopyBytes, &p) == mixcclSuccess, rank, "allocPinned failed")) return false;
    bounce_ = static_cast<char*>(p);
    bounceBytes_ = pinnedCopyBytes;
  }
  return rankCheck(gpu_->streamCreate(&stream_) == mixcclSuccess, rank, "streamCreate failed");
}

RankGpu::~RankGpu() {
  if (gpu_ == nullptr) return;
  for (void* p : buffers_) gpu_->freeDevice(p);
  if (stream_ != nullptr) gpu_->streamDestroy(stream_);
  if (gate_ != nullptr) gpu_->freePinned(gate_);
  if (bounce_ != nullptr) gpu_->freePinned(bounce_);
}

void* RankGpu::upload(const std::vector<char>& host) {
  void* p = alloc(host.size());
  if (bounce_ != nullptr) {
    for (size_t k = 0; k < host.size(); k += bounceBytes_) {
      const size_t n = std::min(bounceBytes_, host.size() - k);
      std::memcpy(bounce_, host.data() + k, n);
      gpu_->copyAsync(static_cast<char*>(p) + k, bounce_, n, stream_);
      gpu_->streamSynchronize(stream_);  // the bounce buffer is free again
    }
    return p;
  }
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
  if (bounce_ != nullptr) {
    for (size_t k = 0; k < bytes; k += bounceBytes_) {
      const size_t n = std::min(bounceBytes_, bytes - k);
      gpu_->copyAsync(bounce_, static_cast<const char*>(p) + k, n, stream_);
      gpu_->streamSynchronize(stream_);
      std::memcpy(host.data() + k, bounce_, n);
    }
    sync();
    return host;
  }
  gpu_->copyAsync(host.data(), p, bytes, stream_);
  sync();
  return host;
}

void RankGpu::sync() {
  if (gpu_ != nullptr) gpu_->streamSynchronize(stream_);  // never opened: nothing was queued
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

Int32AllReduces prepareInt32AllReduces(RankGpu& g, int calls, uint64_t count, int rank, int nranks) {
  Int32AllReduces out;
  out.count = count;
  for (int c = 0; c < calls; ++c) {
    std::vector<char> in(count * 4), want(count * 4);
    testdata::fillInput(in.data(), true, mixcclSum, mixcclInt32, rank, nranks, c * count, count);
    testdata::fillReduced(want.data(), mixcclSum, mixcclInt32, nranks, c * count, count);
    out.bufs.push_back(g.upload(in));
    out.wants.push_back(std::move(want));
  }
  g.sync();
  return out;
}

bool enqueueInt32AllReduce(const Int32AllReduces& calls, int c, mixcclComm_t comm, void* stream, int rank) {
  void* buf = calls.bufs[size_t(c)];
  return rankCheck(mixcclAllReduce(buf, buf, calls.count, mixcclInt32, mixcclSum, comm, stream) == mixcclSuccess,
                   rank, "call %d: %s", c, mixcclGetLastError(comm));
}

bool checkInt32AllReduces(RankGpu& g, const Int32AllReduces& calls, int rank) {
  for (size_t c = 0; c < calls.bufs.size(); ++c) {
    std::vector<char> got = g.download(calls.bufs[c], calls.count * 4);
    if (!rankCheck(testdata::countWrong(got.data(), calls.wants[c].data(), mixcclInt32, calls.count) == 0, rank,
                   "call %zu: wrong result", c)) {
      return false;
    }
  }
  return true;
}

bool backToBackAllReduces(RankGpu& g, mixcclComm_t comm, int calls, uint64_t count, int rank, int nranks) {
  const Int32AllReduces all = prepareInt32AllReduces(g, calls, count, rank, nranks);
  for (int c = 0; c < calls; ++c) {
    if (!enqueueInt32AllReduce(all, c, comm, g.stream(), rank)) return false;
  }
  return checkInt32AllReduces(g, all, rank);
}

namespace {

mixcclResult_t callDeviceCollective(int coll, const void* send, void* recv, uint64_t count, mixcclDataType_t dt,
                              mixcclRedOp_t op, int root, mixcclComm_t comm, void* stream) {
  switch (coll) {
    case 0: return mixcclAllReduce(send, recv, count, dt, op, comm, stream);
    case 1: return mixcclAllGather(send, recv, count, dt, comm, stream);
    case 2: return mixcclReduceScatter(send, recv, count, dt, op, comm, stream);
    case 3: return mixcclBroadcast(send, recv, count, dt, root, comm, stream);
    default: return mixcclReduce(send, recv, count, dt, op, root, comm, stream);
  }
}

}  // namespace

int runDeviceSendRecvRing(RankGpu& g, mixcclComm_t comm, uint64_t count, mixcclDataType_t dt, int rank, int n) {
  const size_t esz = dataTypeSize(dt);
  const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
  std::vector<char> in(count * esz), want(count * esz);
  testdata::fillInput(in.data(), false, mixcclSum, dt, rank, n, 0, count);
  testdata::fillInput(want.data(), false, mixcclSum, dt, prev, n, 0, count);
  void* sendBuf = g.upload(in);
  void* recvBuf = g.alloc(want.size());
  bool ok = mixcclGroupStart() == mixcclSuccess;
  ok &= mixcclSend(sendBuf, count, dt, next, comm, g.stream()) == mixcclSuccess;
  ok &= mixcclRecv(recvBuf, count, dt, prev, comm, g.stream()) == mixcclSuccess;
  ok &= mixcclGroupEnd() == mixcclSuccess;
  if (!rankCheck(ok, rank, "send/recv group failed: %s", mixcclGetLastError(comm))) return 1;
  std::vector<char> got = g.download(recvBuf, want.size());
  return rankCheck(testdata::countWrong(got.data(), want.data(), dt, count) == 0, rank, "send/recv wrong") ? 0 : 1;
}

int runDeviceCollective(RankGpu& g, mixcclComm_t comm, int coll, uint64_t count, mixcclDataType_t dt,
                        mixcclRedOp_t op, bool inPlace, int rank, int n, bool hostBuffers) {
  const int root = (n > 1) ? 1 : 0;
  const CollArgs args{static_cast<CollType>(coll), count, dt, op, root};
  const size_t esz = dataTypeSize(dt);
  const size_t sendBytes = sendElements(args, n) * esz, recvBytes = recvElements(args, n) * esz;
  std::vector<char> send(sendBytes), want(recvBytes, 0x5a), garbage(recvBytes, 0x5a);
  testdata::fillSend(coll, send.data(), count, dt, op, root, rank, n);
  testdata::fillExpectedRecv(coll, want.data(), count, dt, op, root, rank, n);
  std::list<std::vector<char>> hostCopies;  // the host buffers (a list: elements never move)
  auto place = [&](const std::vector<char>& bytes) -> void* {
    if (!hostBuffers) return g.upload(bytes);
    return hostCopies.emplace_back(bytes).data();
  };
  void* dsend = nullptr;
  void* drecv = nullptr;
  if (!inPlace) {
    dsend = place(send);
    drecv = place(garbage);
  } else if (coll == 1) {  // all-gather: my block of the output is the input
    std::vector<char> whole = garbage;
    std::memcpy(whole.data() + rank * sendBytes, send.data(), sendBytes);
    drecv = place(whole);
    dsend = static_cast<char*>(drecv) + rank * sendBytes;
  } else if (coll == 2) {  // reduce-scatter: the output is my block of the input
    dsend = place(send);
    drecv = static_cast<char*>(dsend) + rank * recvBytes;
  } else {
    dsend = drecv = place(send);
  }
  if (callDeviceCollective(coll, dsend, drecv, count, dt, op, root, comm, g.stream()) != mixcclSuccess) {
    rankCheck(false, rank, "%s failed: %s", collName(args.type), mixcclGetLastError(comm));
    return 1;
  }
  if (coll == 4 && rank != root) {  // a reduce writes only the root's output
    if (hostBuffers) g.sync();        // before its buffers go
    return 0;
  }
  std::vector<char> got;
  if (hostBuffers) {
    g.sync();
    got.assign(static_cast<char*>(drecv), static_cast<char*>(drecv) + recvBytes);
  } else {
    got = g.download(drecv, recvBytes);
  }
  uint64_t wrong = testdata::countWrong(got.data(), want.data(), dt, recvBytes / esz);
  return rankCheck(wrong == 0, rank, "%s dt %d op %d count %llu %s: %llu wrong", collName(args.type), dt, op,
                   static_cast<unsigned long long>(count), inPlace ? "in place" : "out of place",
                   static_cast<unsigned long long>(wrong)) ? 0 : 1;
}

}  // namespace mixccl::testing

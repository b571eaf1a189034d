#pragma once
// One rank's GPU in a multi-process device test: the GPU of testGpu() (support/test_gpu.h), a stream, device
// buffers filled and read back through that stream, and a "gate" that holds the stream until the test opens it.
#include <list>
#include <vector>

#include "device/gpu_backend.h"
#include "mixccl.h"
#include "support/test_gpu.h"

namespace mixccl::testing {

class RankGpu {
 public:
  RankGpu() = default;
  RankGpu(const RankGpu&) = delete;
  RankGpu& operator=(const RankGpu&) = delete;
  ~RankGpu();  // frees the buffers and the stream
  // Picks the GPU and makes the stream; false (printed as "rank R: ...") when there is none. With `pinnedCopyBytes`,
  // upload() and download() copy through that much pinned memory, allocated now, and wait for each copy: a copy from
  // or into pageable memory may hold up other threads' CUDA calls until its stream reaches it (a proxy's launches the
  // stream waits for, among them).
  // `vendor`: the GPU's (test_gpu.h's testGpu).
  bool open(int rank, size_t pinnedCopyBytes = 0, MemoryType vendor = kAnyVendor);
  GpuBackend* gpu() { return gpu_; }
  void* stream() { return stream_; }
  // Device memory holding a copy of `host`, made on the stream (the source is kept until the next sync()).
  void* upload(const std::vector<char>& host);
  // Device memory of `bytes` bytes, freed with this object.
  void* alloc(size_t bytes);
  // The device memory at `p`, after everything queued on the stream.
  std::vector<char> download(const void* p, size_t bytes);
  void sync();
  // A pinned word the stream waits on before anything queued later runs; openGate() lets it go on.
  void closeGate();
  void openGate();

 private:
  GpuBackend* gpu_ = nullptr;
  void* stream_ = nullptr;
  uint32_t* gate_ = nullptr;
  char* bounce_ = nullptr;  // pinned, for copies (open's pinnedCopyBytes)
  size_t bounceBytes_ = 0;
  std::vector<void*> buffers_;
  std::list<std::vector<char>> uploads_;  // sources of copies still queued (a list: elements never move)
};

// In-place int32 sum all-reduces of `count` elements, each with inputs of its own (so a call that read another
// call's data shows): their device buffers, uploaded and synced, and the results they must end with.
struct Int32AllReduces {
  uint64_t count = 0;
  std::vector<void*> bufs;
  std::vector<std::vector<char>> wants;
};
Int32AllReduces prepareInt32AllReduces(RankGpu& g, int calls, uint64_t count, int rank, int nranks);
// Enqueues call c of `calls` on `stream` (g's when nullptr); false (printed) on the first failure.
bool enqueueInt32AllReduce(const Int32AllReduces& calls, int c, mixcclComm_t comm, void* stream, int rank);
// Every result, read back after everything queued on g's stream; false (printed) on the first wrong one.
bool checkInt32AllReduces(RankGpu& g, const Int32AllReduces& calls, int rank);

// `calls` such all-reduces on g's stream, all enqueued before the first result is read; then every result checked.
// False (printed) on the first failure.
bool backToBackAllReduces(RankGpu& g, mixcclComm_t comm, int calls, uint64_t count, int rank, int nranks);

// One collective (0 all-reduce, 1 all-gather, 2 reduce-scatter, 3 broadcast, 4 reduce; root 1, or 0 with one rank)
// on g's device buffers with exact inputs, in place (the nccl-tests layouts) or not, its output read back after the
// stream and compared bitwise. Returns 0, or 1 with the failure printed for the rank. With `hostBuffers` the buffers
// are in host memory instead (the call still names g's stream; g need not be open: a rank without a GPU).
int runDeviceCollective(RankGpu& g, mixcclComm_t comm, int coll, uint64_t count, mixcclDataType_t dt,
                        mixcclRedOp_t op, bool inPlace, int rank, int n, bool hostBuffers = false);

// A ring of sends and receives in one group (each rank sends `count` elements of `dt` to rank + 1 and receives
// from rank - 1) on g's device buffers, compared bitwise. Returns 0, or 1 with the failure printed for the rank.
int runDeviceSendRecvRing(RankGpu& g, mixcclComm_t comm, uint64_t count, mixcclDataType_t dt, int rank, int n);

}  // namespace mixccl::testing

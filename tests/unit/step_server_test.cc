// The step server of src/device/kernels/step_server_kernel.h, built in the portability header's host mode, driven
// through its queue (kernels/step_queue.h) by this test as the proxy would: commands run in order with the
// arithmetic of the ordinary kernels, bit for bit; `done` follows them; exit ends the kernel; a kernel whose job was
// given up exits without running anything; the ring is reused across jobs.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "device/kernels/gpu_kernels.h"  // kernels::host: built by support/host_kernels.cc
#include "device/kernels/step_queue.h"

namespace mixccl {
namespace {

using kernels::StepCommand;
using kernels::StepQueue;

// The proxy's side of the protocol, for one queue.
class Driver {
 public:
  Driver() : q_(new StepQueue) { std::memset(q_.get(), 0, sizeof(StepQueue)); }
  StepQueue* queue() { return q_.get(); }
  uint64_t* counter() { return counter_; }
  uint32_t exited(uint32_t job) const {
    return __atomic_load_n(&q_->exited[job % kernels::kStepExitSlots], __ATOMIC_ACQUIRE);
  }

  void begin(uint32_t job) {
    base_ = seq_;
    q_->base = base_;
    q_->counterBase = done_;
    __atomic_store_n(&q_->job, job, __ATOMIC_RELEASE);
  }
  // Writes a command and waits until the server has run it.
  void run(StepCommand c) {
    push(c);
    while (__atomic_load_n(&q_->done, __ATOMIC_ACQUIRE) != seq_) std::this_thread::yield();
    ++done_;
  }
  void exit() {
    StepCommand c{};
    c.kind = kernels::kStepExit;
    push(c);
  }

 private:
  void push(StepCommand c) {
    c.seq = ++seq_;
    StepCommand& slot = q_->ring[c.seq % kernels::kStepRing];
    const uint32_t seq = c.seq;
    c.seq = 0;
    slot = c;
    __atomic_store_n(&slot.seq, seq, __ATOMIC_RELEASE);
  }

  std::unique_ptr<StepQueue> q_;
  uint64_t counter_[kernels::kStepCounterWords] = {};  // the command counter, then the exit counters
  uint32_t seq_ = 0, base_ = 0;
  uint64_t done_ = 0;
};

StepCommand reduceCommand(void* dst, const void* a, const void* b, size_t count, mixcclDataType_t dt, mixcclRedOp_t op,
                          uint32_t divisor) {
  StepCommand c{};
  c.kind = kernels::kStepReduce;
  c.dst = reinterpret_cast<uintptr_t>(dst);
  c.a = reinterpret_cast<uintptr_t>(a);
  c.b = reinterpret_cast<uintptr_t>(b);
  c.count = count;
  c.dtype = uint32_t(dt);
  c.op = uint32_t(op);
  c.divisor = divisor;
  return c;
}

TEST(StepServer, RunsCommandsInOrderBitForBitAsTheKernelsAndExits) {
  Driver d;
  std::thread server([&] { kernels::host::launchStepServer(d.queue(), d.counter(), 1, nullptr); });
  const size_t n = 1001;
  std::vector<uint16_t> a(n), b(n), got(n), want(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = uint16_t(0x3c00 + i * 7);  // bf16 bit patterns, NaNs and infinities among them
    b[i] = uint16_t(0xbf80 + i * 13);
  }
  d.begin(1);
  for (mixcclRedOp_t op : {mixcclSum, mixcclProd, mixcclMax, mixcclMin}) {
    for (uint32_t divisor : {0u, 3u}) {
      d.run(reduceCommand(got.data(), a.data(), b.data(), n, mixcclBfloat16, op, divisor));
      const ReduceSpec spec{mixcclBfloat16, op, divisor};
      ASSERT_EQ(kernels::host::launchReduce(want.data(), a.data(), b.data(), n, spec, nullptr), 0);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), n * 2), 0) << "op " << op << " divisor " << divisor;
    }
  }
  // A post-op divides in place; a copy moves unaligned bytes; then the result of one step feeds the next.
  std::vector<int32_t> v(77, 10), w(77, 0);
  StepCommand post = reduceCommand(v.data(), v.data(), v.data(), v.size(), mixcclInt32, mixcclSum, 4);
  post.kind = kernels::kStepPostOp;
  d.run(post);
  EXPECT_EQ(v[76], 2);
  StepCommand copy{};
  copy.kind = kernels::kStepCopy;
  copy.dst = reinterpret_cast<uintptr_t>(reinterpret_cast<char*>(w.data()) + 1);
  copy.a = reinterpret_cast<uintptr_t>(reinterpret_cast<char*>(v.data()) + 1);
  copy.count = 4 * 76 - 1;
  d.run(copy);
  EXPECT_EQ(w[0], 0) << "the copy began at byte 1 (v[0]'s low byte, 2, stays behind)";
  EXPECT_EQ(w[75], 2);
  EXPECT_EQ(w[76], 0) << "the copy ended at byte 4 * 76";
  d.run(reduceCommand(w.data(), w.data(), v.data(), 76, mixcclInt32, mixcclSum, 0));
  EXPECT_EQ(w[0], 2);
  EXPECT_EQ(w[75], 4);
  d.exit();
  server.join();  // the exit ended it
  EXPECT_EQ(*d.counter(), 8u + 3u) << "one count per command and block";
  EXPECT_EQ(d.exited(1), 1u) << "the server said it left";
}

TEST(StepServer, JobsReuseTheRingAndAGivenUpJobsServerExitsAtOnce) {
  Driver d;
  std::vector<float> x(64, 1.f);
  // Job 1 runs more commands than the ring holds; job 2's server is never given its job (3 starts instead).
  std::thread first([&] { kernels::host::launchStepServer(d.queue(), d.counter(), 1, nullptr); });
  d.begin(1);
  for (uint32_t i = 0; i < kernels::kStepRing + 10; ++i) {
    d.run(reduceCommand(x.data(), x.data(), x.data(), x.size(), mixcclFloat32, mixcclMax, 0));
  }
  d.exit();
  first.join();
  d.begin(3);
  std::thread skipped([&] { kernels::host::launchStepServer(d.queue(), d.counter(), 2, nullptr); });
  skipped.join();  // job 3 is past its job 2: it returns without waiting
  EXPECT_EQ(d.exited(2), 2u);
  std::thread third([&] { kernels::host::launchStepServer(d.queue(), d.counter(), 3, nullptr); });
  d.run(reduceCommand(x.data(), x.data(), x.data(), x.size(), mixcclFloat32, mixcclSum, 0));
  d.exit();
  third.join();
  EXPECT_EQ(x[63], 2.f);
  EXPECT_EQ(d.exited(3), 3u);
}

}  // namespace
}  // namespace mixccl

// The executor with a StepDevice (engine/step_device.h): a step whose arithmetic is on the device holds its slots
// until its fence is reached (nothing is posted to the peer before the device is done), the lane moves on only
// then, and a ring all-reduce whose every step is "on the device" is exact.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "algorithms/registry.h"
#include "engine/executor.h"
#include "engine/sim_fabric.h"

namespace mixccl {
namespace {

// Does the arithmetic on the host at once, but reports a fence reached only once `open` is set: the device's
// completion, held back by the test.
class HeldDevice final : public StepDevice {
 public:
  Result reduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec) override {
    cpuBackend().reduce(dst, a, b, count, spec);
    ++ops;
    return mixcclSuccess;
  }
  Result postOp(void* dst, const void* src, size_t count, const ReduceSpec& spec) override {
    cpuBackend().postOp(dst, src, count, spec);
    ++ops;
    return mixcclSuccess;
  }
  Result copy(void* dst, const void* src, size_t bytes) override {
    std::memmove(dst, src, bytes);
    ++ops;
    return mixcclSuccess;
  }
  Result fence(uint64_t* fence) override {
    *fence = ++issued;
    return mixcclSuccess;
  }
  Result reached(uint64_t fence, bool* done) override {
    *done = open && fence <= issued;
    return mixcclSuccess;
  }
  bool open = false;
  uint64_t issued = 0;
  int ops = 0;
};

TEST(StepDevice, AStepHoldsItsSlotsUntilTheDeviceHasDoneIt) {
  // Rank 0 sends 4 floats to rank 1, which writes them to its receive buffer.
  CollArgs args{CollType::kBroadcast, 4, mixcclFloat32, mixcclSum, 0};
  Plan send, recv;
  send.emit(-1, 1, {BufKind::kSend, 0}, {}, 4, false);
  send.endLane();
  recv.emit(0, -1, {}, {BufKind::kRecv, 0}, 4, false);
  recv.endLane();
  SimFabric fabric(2, 1024, 2);
  std::vector<Transport*> routes0 = {nullptr, fabric.transport(0)}, routes1 = {fabric.transport(1), nullptr};
  std::vector<float> in = {1, 2, 3, 4}, out(4, 0.f), unused(4, 0.f);
  HeldDevice device;
  Executor sender(send, args, 0, 2, {in.data(), unused.data(), nullptr}, routes0, cpuBackend(), &device);
  Executor receiver(recv, args, 1, 2, {nullptr, out.data(), nullptr}, routes1, cpuBackend());

  bool progressed = false;
  ASSERT_EQ(sender.advance(&progressed), mixcclSuccess) << lastErrorMessage();
  EXPECT_TRUE(progressed);  // the step started
  EXPECT_EQ(device.ops, 1);
  EXPECT_TRUE(sender.deviceBusy());
  EXPECT_FALSE(sender.done());
  EXPECT_NE(sender.waitingFor().find("its work on the GPU"), std::string::npos) << sender.waitingFor();
  EXPECT_EQ(fabric.fifo(0, 1, 0).head, 0u) << "the slot was posted before the device had written it";
  ASSERT_EQ(receiver.advance(&progressed), mixcclSuccess);
  EXPECT_FALSE(progressed);
  ASSERT_EQ(sender.advance(&progressed), mixcclSuccess);
  EXPECT_FALSE(progressed);  // still held: neither posted nor restarted
  EXPECT_EQ(device.ops, 1);

  device.open = true;
  ASSERT_EQ(sender.advance(&progressed), mixcclSuccess);
  EXPECT_TRUE(progressed);
  EXPECT_TRUE(sender.done());
  EXPECT_FALSE(sender.deviceBusy());
  EXPECT_EQ(fabric.fifo(0, 1, 0).head, 1u);
  ASSERT_EQ(receiver.advance(&progressed), mixcclSuccess);
  EXPECT_TRUE(receiver.done());
  EXPECT_EQ(out, in);
}

TEST(StepDevice, ARingAllReduceOnTheDeviceIsExact) {
  const Algorithm* ring = findAlgorithm("ring");
  ASSERT_NE(ring, nullptr);
  const int n = 3;
  const uint64_t count = 1000;  // several chunks of 64 floats: every step type, many fences per lane
  CollArgs args{CollType::kAllReduce, count, mixcclFloat32, mixcclAvg, 0};
  SimFabric fabric(n, 256, 2);
  std::vector<Plan> plans;
  std::vector<std::vector<Transport*>> routes(n, std::vector<Transport*>(n, nullptr));
  std::vector<std::vector<float>> send(n, std::vector<float>(count)), recv(n, std::vector<float>(count, -1.f));
  for (int r = 0; r < n; ++r) {
    plans.push_back(ring->plan(args, PlanContext{r, n, 256}));
    for (int p = 0; p < n; ++p) routes[r][p] = p == r ? nullptr : fabric.transport(r);
    for (uint64_t i = 0; i < count; ++i) send[r][i] = float((r + 1) * 3 + i % 7);  // sums exact in fp32
  }
  std::vector<HeldDevice> devices(n);
  std::vector<std::unique_ptr<Executor>> ex;
  for (int r = 0; r < n; ++r) {
    ex.push_back(std::make_unique<Executor>(plans[r], args, r, n, ExecBuffers{send[r].data(), recv[r].data(), nullptr},
                                            routes[r], cpuBackend(), &devices[r]));
  }
  // Every device completes its work one advance late: each step is seen running before it ends.
  for (int round = 0; round < 100000; ++round) {
    bool all = true;
    for (int r = 0; r < n; ++r) {
      bool progressed = false;
      devices[r].open = (round % 2) == 1;
      ASSERT_EQ(ex[r]->advance(&progressed), mixcclSuccess) << lastErrorMessage();
      all &= ex[r]->done();
    }
    if (all) break;
  }
  for (int r = 0; r < n; ++r) {
    ASSERT_TRUE(ex[r]->done()) << "rank " << r << ": " << ex[r]->waitingFor();
    for (uint64_t i = 0; i < count; ++i) {
      const float want = float((1 + 2 + 3) * 3 + 3 * (i % 7)) / n;
      ASSERT_EQ(recv[r][i], want) << "rank " << r << " element " << i;
    }
  }
}

}  // namespace
}  // namespace mixccl

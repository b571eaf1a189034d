// The second local input of a step (Step::src2): what validatePlan accepts and rejects, how describe() shows it,
// and that the executor combines src2 with src (run in the plan simulator on one rank). Also: a step on a channel
// the transports lack is an error, and MIXCCL_ALGO's error for an unknown algorithm lists the registered ones.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/status.h"
#include "engine/plan.h"
#include "engine/simulator.h"
#include "tuning/selector.h"

namespace mixccl {
namespace {

Step combine(Slice src2, Slice src, Slice dst, uint64_t count) {
  Step s;
  s.src2 = src2;
  s.src = src;
  s.dst = dst;
  s.count = count;
  return s;
}

TEST(PlanSrc2, ValidateAcceptsTwoLocalInputsAndRejectsMisuse) {
  Plan plan;
  plan.scratchElements = 4;
  plan.push(combine({BufKind::kSend, 0}, {BufKind::kScratch, 0}, {BufKind::kScratch, 0}, 4));
  plan.endLane();
  EXPECT_EQ(validatePlan(plan, 0, 2, 4, 4), "");
  EXPECT_TRUE(plan.steps[0].reduces());
  EXPECT_NE(plan.describe().find("send[0] (op) scratch[0] -> scratch[0]"), std::string::npos) << plan.describe();

  Plan withRecv = plan;
  withRecv.steps[0].recvPeer = 1;
  EXPECT_NE(validatePlan(withRecv, 0, 2, 4, 4).find("src2 together with a receive"), std::string::npos);

  Plan alone = plan;
  alone.steps[0].src = {};
  EXPECT_NE(validatePlan(alone, 0, 2, 4, 4).find("src2 without src"), std::string::npos);

  Plan outside = plan;
  outside.steps[0].src2 = {BufKind::kSend, 1};
  EXPECT_NE(validatePlan(outside, 0, 2, 4, 4).find("outside"), std::string::npos);
}

// A one-rank "algorithm" whose plan is: scratch = send[0..4); recv = send[4..8) (op) scratch. The result shows the
// executor took the step's src2 as an input.
class TwoLocalInputs final : public Algorithm {
 public:
  const char* name() const override { return "two-local-inputs"; }
  const char* description() const override { return "test"; }
  bool supports(const CollArgs&, const PlanContext&) const override { return true; }
  Plan plan(const CollArgs&, const PlanContext&) const override {
    Plan p;
    p.scratchElements = 4;
    Step copy;
    copy.src = {BufKind::kSend, 0};
    copy.dst = {BufKind::kScratch, 0};
    copy.count = 4;
    p.push(copy);
    p.push(combine({BufKind::kSend, 4}, {BufKind::kScratch, 0}, {BufKind::kRecv, 0}, 4));
    p.endLane();
    return p;
  }
  double estimate(const CollArgs&, const PlanContext&) const override { return 0; }
};

TEST(PlanSrc2, ExecutorCombinesSrc2WithSrc) {
  // An all-gather of 8 elements on one rank: send and receive buffers both hold 8 floats.
  CollArgs args{CollType::kAllGather, 8, mixcclFloat32, mixcclSum, 0};
  std::vector<float> send = {1, 2, 3, 4, 10, 20, 30, 40}, recv(8, -1.f);
  std::vector<SimRankBuffers> bufs = {{send.data(), recv.data()}};
  TwoLocalInputs algo;
  ASSERT_EQ(simulate(algo, args, 1, SimOptions{}, bufs, nullptr), mixcclSuccess) << lastErrorMessage();
  EXPECT_EQ(recv, (std::vector<float>{11, 22, 33, 44, -1, -1, -1, -1}));
}

// A plan on a channel the transports do not offer fails with an error naming it, instead of crashing.
class FourthChannel final : public Algorithm {
 public:
  const char* name() const override { return "fourth-channel"; }
  const char* description() const override { return "test"; }
  bool supports(const CollArgs&, const PlanContext&) const override { return true; }
  Plan plan(const CollArgs&, const PlanContext& ctx) const override {
    Plan p;
    Step s;
    s.count = 1;
    s.channel = 3;
    if (ctx.rank == 0) {
      s.src = {BufKind::kSend, 0};
      s.sendPeer = 1;
    } else {
      s.dst = {BufKind::kRecv, 0};
      s.recvPeer = 0;
    }
    p.push(s);
    p.endLane();
    return p;
  }
  double estimate(const CollArgs&, const PlanContext&) const override { return 0; }
};

TEST(PlanChannels, AChannelTheTransportLacksIsAnError) {
  CollArgs args{CollType::kBroadcast, 1, mixcclFloat32, mixcclSum, 0};
  std::vector<float> send = {1}, recv0 = {0}, recv1 = {0};
  std::vector<SimRankBuffers> bufs = {{send.data(), recv0.data()}, {send.data(), recv1.data()}};
  FourthChannel algo;
  ASSERT_EQ(simulate(algo, args, 2, SimOptions{}, bufs, nullptr), mixcclInternalError);
  EXPECT_NE(std::string(lastErrorMessage()).find("channel 3"), std::string::npos) << lastErrorMessage();
}

TEST(SelectorMessage, UnknownAlgorithmListsTheRegisteredOnes) {
  Selector s;
  ASSERT_EQ(Selector::create("warp", &s), mixcclInvalidUsage);
  const std::string message = lastErrorMessage();
  for (const Algorithm* a : allAlgorithms()) {
    EXPECT_NE(message.find(a->name()), std::string::npos) << a->name() << " missing from: " << message;
  }
}

}  // namespace
}  // namespace mixccl

// engine/lane_split.h: the waits it derives from a sequential plan (read after write, write after read, write after
// write, none between disjoint slices or within a lane, none repeated), the plan unchanged when there is one lane,
// and that the executor holds a step back until the step of another lane it waits for has run (in the plan
// simulator, on one rank).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/lane_split.h"
#include "engine/simulator.h"

namespace mixccl {
namespace {

Step local(Slice src, Slice dst, uint64_t count) {
  Step s;
  s.src = src;
  s.dst = dst;
  s.count = count;
  return s;
}

Plan sequentialOf(const std::vector<Step>& steps) {
  Plan p;
  p.scratchElements = 16;
  for (const Step& s : steps) p.push(s);
  p.endLane();
  return p;
}

TEST(LaneSplit, WaitsForWritersAndReadersOfOverlappingSlicesInOtherLanes) {
  // Send slices at 12.. so that they do not alias the receive slices (splitLanes takes kSend and kRecv as one memory).
  const Slice send12{BufKind::kSend, 12}, recv0{BufKind::kRecv, 0}, recv2{BufKind::kRecv, 2};
  const Slice recv8{BufKind::kRecv, 8}, scratch0{BufKind::kScratch, 0};
  const Plan seq = sequentialOf({
      local(send12, scratch0, 4),  // 0, lane 0: writes scratch[0,4)
      local(scratch0, recv0, 4),   // 1, lane 1: reads scratch[0,4), written by 0 -> after 0 (read after write)
      local(send12, recv8, 4),     // 2, lane 1: nothing before it in lane 0 touches these -> no wait
      local(send12, recv2, 4),     // 3, lane 0: writes recv[2,6), written by 1 -> after 1 (write after write)
      local(recv0, scratch0, 2),   // 4, lane 1: reads what its own lane wrote; writes scratch[0,2), written by 0,
                                   //            which lane 1 already waited for -> no wait
      local(recv8, scratch0, 4),   // 5, lane 0: reads recv[8,12), written by 2; writes scratch[0,4), written by 4
                                   //            and read by 1 (write after read) -> after 4, the latest
  });
  const Plan p = splitLanes(seq, {0, 1, 1, 0, 1, 0});
  ASSERT_EQ(validatePlan(p, 0, 1, 16, 16), "");
  ASSERT_EQ(p.numLanes(), 2u);
  // Lane 0 holds sequential steps 0, 3, 5 (indices 0..2); lane 1 holds 1, 2, 4 (indices 3..5).
  ASSERT_EQ(p.waits.size(), 3u) << p.describe();
  EXPECT_EQ(p.waits[0].step, 1u);  // seq 3 after seq 1
  EXPECT_EQ(p.waits[0].lane, 1u);
  EXPECT_EQ(p.waits[0].after, 3u);
  EXPECT_EQ(p.waits[1].step, 2u);  // seq 5 after seq 4
  EXPECT_EQ(p.waits[1].after, 5u);
  EXPECT_EQ(p.waits[2].step, 3u);  // seq 1 after seq 0
  EXPECT_EQ(p.waits[2].lane, 0u);
  EXPECT_EQ(p.waits[2].after, 0u);
  EXPECT_NE(p.describe().find("lane 1 step 0: [after lane 0 step 0]"), std::string::npos) << p.describe();
}

TEST(LaneSplit, OneTagGivesTheSequentialPlanAndNoStepNoLane) {
  const Plan seq = sequentialOf({local({BufKind::kSend, 0}, {BufKind::kRecv, 0}, 1),
                                 local({BufKind::kRecv, 0}, {BufKind::kScratch, 0}, 1)});
  const Plan one = splitLanes(seq, {3, 3});
  EXPECT_EQ(one.numLanes(), 1u);
  EXPECT_TRUE(one.waits.empty());
  EXPECT_EQ(one.describe(), seq.describe());
  EXPECT_EQ(splitLanes(Plan{}, {}).numLanes(), 0u);
}

TEST(LaneSplit, ValidateRejectsWaitsOnTheirOwnLaneOrOutOfOrder) {
  Plan p = splitLanes(sequentialOf({local({BufKind::kSend, 0}, {BufKind::kRecv, 0}, 1),
                                    local({BufKind::kRecv, 0}, {BufKind::kScratch, 0}, 1)}),
                      {0, 1});
  ASSERT_EQ(p.waits.size(), 1u);
  EXPECT_EQ(validatePlan(p, 0, 1, 4, 4), "");
  Plan own = p;
  own.waits[0].lane = 1;
  own.waits[0].after = 1;
  EXPECT_NE(validatePlan(own, 0, 1, 4, 4).find("its own lane"), std::string::npos);
  Plan elsewhere = p;
  elsewhere.waits[0].after = 1;
  EXPECT_NE(validatePlan(elsewhere, 0, 1, 4, 4).find("not in lane"), std::string::npos);
  Plan unsorted = p;
  unsorted.waits.push_back({0, 1, 1});
  EXPECT_NE(validatePlan(unsorted, 0, 1, 4, 4).find("not sorted"), std::string::npos);
}

// Sequentially: scratch = send[0..4), then recv = scratch. Split so that the consumer is lane 0, which the
// executor tries first: only the wait keeps it from copying the scratch before it is written.
class ConsumerFirst final : public Algorithm {
 public:
  explicit ConsumerFirst(bool keepWaits) : keepWaits_(keepWaits) {}
  const char* name() const override { return "consumer-first"; }
  const char* description() const override { return "test"; }
  bool supports(const CollArgs&, const PlanContext&) const override { return true; }
  Plan plan(const CollArgs&, const PlanContext&) const override {
    Plan seq = sequentialOf(
        {local({BufKind::kSend, 0}, {BufKind::kScratch, 0}, 4), local({BufKind::kScratch, 0}, {BufKind::kRecv, 0}, 4)});
    seq.scratchElements = 4;
    Plan p = splitLanes(seq, {1, 0});
    if (!keepWaits_) p.waits.clear();
    return p;
  }
  double estimate(const CollArgs&, const PlanContext&) const override { return 0; }

 private:
  bool keepWaits_;
};

TEST(LaneSplit, ExecutorRunsAWaitingStepOnlyAfterTheStepItWaitsFor) {
  CollArgs args{CollType::kAllReduce, 4, mixcclFloat32, mixcclSum, 0};
  for (bool keep : {true, false}) {
    std::vector<float> send = {1, 2, 3, 4}, recv(4, -1.f);
    std::vector<SimRankBuffers> bufs = {{send.data(), recv.data()}};
    ConsumerFirst algo(keep);
    ASSERT_EQ(simulate(algo, args, 1, SimOptions{}, bufs, nullptr), mixcclSuccess) << lastErrorMessage();
    // Without the wait the consumer copies the scratch before it holds the data: the check can fail.
    if (keep) {
      EXPECT_EQ(recv, send);
    } else {
      EXPECT_NE(recv, send);
    }
  }
}

}  // namespace
}  // namespace mixccl

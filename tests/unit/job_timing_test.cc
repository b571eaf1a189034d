// The staged jobs' timing by size class (core/job_timing.h): class bounds, averages and maxima, order, and the
// empty case.
#include "core/job_timing.h"

#include <gtest/gtest.h>

namespace mixccl {
namespace {

TEST(JobTiming, NothingAddedGivesNoLine) { EXPECT_TRUE(JobTiming().lines().empty()); }

TEST(JobTiming, JobsOfOneClassAreAveragedWithTheirMaxima) {
  JobTiming t;
  t.add(2048, 10.0, 1.0);
  t.add(4095, 30.0, 5.0);  // still [2 KiB, 4 KiB)
  const auto lines = t.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "[2 KiB, 4 KiB): 2 jobs; inputs landed after 20.0 us on average (at most 30.0), ran 3.0 us (at most 5.0)");
}

TEST(JobTiming, ClassesAreListedSmallestFirstWithTheirBounds) {
  JobTiming t;
  t.add(uint64_t{64} << 20, 1, 1);
  t.add(8, 1, 1);
  t.add(0, 1, 1);
  t.add(1023, 1, 1);
  t.add(1024, 1, 1);
  t.add(~uint64_t{0}, 1, 1);
  const auto lines = t.lines();
  ASSERT_EQ(lines.size(), 6u);
  const char* want[] = {"0 B: 1 job;",
                        "[8 B, 16 B): 1 job;",
                        "[512 B, 1 KiB): 1 job;",
                        "[1 KiB, 2 KiB): 1 job;",
                        "[64 MiB, 128 MiB): 1 job;",
                        "[8 EiB, 16 EiB): 1 job;"};
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind(want[i], 0), 0u) << "line " << i << ": " << lines[i];
  }
}

}  // namespace
}  // namespace mixccl

#pragma once
// Checks on plans shared by the plan tests.
#include <string>

#include "engine/plan.h"

namespace mixccl {

// The message rule of plan.h: all sends of the plan to one peer on one channel are in one lane, and so are all
// its receives from one peer on one channel; and every channel is below `channels`. Returns "" when the plan
// keeps it, else the first breach, e.g. "sends to 3 on channel 0 in lanes 1 and 2".
std::string laneOwnershipProblem(const Plan& plan, int nranks, int channels);

}  // namespace mixccl

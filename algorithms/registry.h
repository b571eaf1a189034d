#pragma once
// The algorithms mixccl knows, as self-describing records. The selector (src/tuning) chooses among them.
#include <vector>

#include "algorithms/algorithm.h"

namespace mixccl {

// Every algorithm, in a fixed order (the same on every rank). Objects live for the whole process.
const std::vector<const Algorithm*>& allAlgorithms();

// The algorithm called `name`, or nullptr.
const Algorithm* findAlgorithm(const char* name);

}  // namespace mixccl

#include "algorithms/registry.h"

#include <cstring>

#include "algorithms/hierarchical.h"
#include "algorithms/ring.h"

namespace mixccl {

const std::vector<const Algorithm*>& allAlgorithms() {
  static const RingAlgorithm ring;
  static const HierarchicalAlgorithm hierarchical;
  static const std::vector<const Algorithm*> all = {&ring, &hierarchical};
  return all;
}

const Algorithm* findAlgorithm(const char* name) {
  for (const Algorithm* a : allAlgorithms()) {
    if (strcmp(a->name(), name) == 0) return a;
  }
  return nullptr;
}

}  // namespace mixccl

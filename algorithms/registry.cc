#include "algorithms/registry.h"

#include <cstring>

#include "algorithms/direct.h"
#include "algorithms/hierarchical.h"
#include "algorithms/rhd.h"
#include "algorithms/ring.h"
#include "algorithms/tree.h"

namespace mixccl {

const std::vector<const Algorithm*>& allAlgorithms() {
  static const RingAlgorithm ring;
  static const TreeAlgorithm tree;
  static const RhdAlgorithm rhd;
  static const DirectAlgorithm direct;
  static const TwoShotAlgorithm twoshot;
  static const HierarchicalAlgorithm hierarchical;
  static const std::vector<const Algorithm*> all = {&ring, &tree, &rhd, &direct, &twoshot, &hierarchical};
  return all;
}

const Algorithm* findAlgorithm(const char* name) {
  for (const Algorithm* a : allAlgorithms()) {
    if (strcmp(a->name(), name) == 0) return a;
  }
  return nullptr;
}

}  // namespace mixccl

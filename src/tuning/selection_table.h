#pragma once
// The selector's decisions over a range of message sizes, for mixccl-info and the docs: for each size, every
// algorithm's modelled time and the one chosen.
#include <cstdint>
#include <string>
#include <vector>

#include "tuning/selector.h"

namespace mixccl {

struct SelectionRow {
  uint64_t bytes = 0;  // per-rank buffer size (NCCL's count x type size)
  const Algorithm* chosen = nullptr;
  std::vector<Candidate> candidates;  // registry order
};

// Rows for bytes = minBytes, minBytes*factor, ... <= maxBytes, for `type` in `dtype`, on the context's cluster.
// Needs factor >= 2 and minBytes >= the type's size.
std::vector<SelectionRow> selectionTable(const Selector& selector, CollType type, mixcclDataType_t dtype,
                                         const PlanContext& ctx, uint64_t minBytes, uint64_t maxBytes, int factor);

// Text: a header, one line per size ("  64 KiB  ring*  12.3 us  tree 15.1 us  ..."; * marks the choice), then
// the ranges ("8 B .. 32 KiB -> direct").
std::string formatSelectionTable(CollType type, const std::vector<SelectionRow>& rows);

// "8 B", "64 KiB", "1 GiB".
std::string formatBytes(uint64_t bytes);

}  // namespace mixccl

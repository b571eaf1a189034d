#include "common/collective.h"

namespace mixccl::perf {
namespace {

// count/n rounded down so that one rank's share is a whole number of 16-byte units (as nccl-tests does).
size_t perRankCount(size_t count, size_t eltSize, int nranks) {
  size_t perRank = count / static_cast<size_t>(nranks);
  size_t unit = eltSize < 16 ? 16 / eltSize : 1;
  return perRank / unit * unit;
}

}  // namespace

CollCounts sameCounts(size_t count, size_t, int, int) {
  CollCounts c;
  c.sendCount = c.recvCount = c.paramCount = count;
  return c;
}

CollCounts gatherCounts(size_t count, size_t eltSize, int nranks, int rank) {
  CollCounts c;
  c.paramCount = c.sendCount = perRankCount(count, eltSize, nranks);
  c.recvCount = c.sendCount * static_cast<size_t>(nranks);
  c.sendInPlace = c.sendCount * static_cast<size_t>(rank);
  return c;
}

CollCounts scatterCounts(size_t count, size_t eltSize, int nranks, int rank) {
  CollCounts c;
  c.paramCount = c.recvCount = perRankCount(count, eltSize, nranks);
  c.sendCount = c.recvCount * static_cast<size_t>(nranks);
  c.recvInPlace = c.recvCount * static_cast<size_t>(rank);
  return c;
}

}  // namespace mixccl::perf

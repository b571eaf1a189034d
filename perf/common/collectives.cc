// The five collectives the *_perf binaries measure: each one's call, count rule and busbw factor
// (NCCL-TESTS-FORMAT.md, "Counts per collective" and "Bandwidths").
#include <iterator>

#include "common/collective.h"

namespace mixccl::perf {
namespace {

mixcclResult_t allReduce(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t op, int,
                         mixcclComm_t comm, mixcclStream_t stream) {
  return mixcclAllReduce(send, recv, count, dt, op, comm, stream);
}

mixcclResult_t allGather(const void* send, void* recv, size_t sendCount, mixcclDataType_t dt, mixcclRedOp_t, int,
                         mixcclComm_t comm, mixcclStream_t stream) {
  return mixcclAllGather(send, recv, sendCount, dt, comm, stream);
}

mixcclResult_t reduceScatter(const void* send, void* recv, size_t recvCount, mixcclDataType_t dt, mixcclRedOp_t op, int,
                             mixcclComm_t comm, mixcclStream_t stream) {
  return mixcclReduceScatter(send, recv, recvCount, dt, op, comm, stream);
}

mixcclResult_t broadcast(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t, int root,
                         mixcclComm_t comm, mixcclStream_t stream) {
  return mixcclBroadcast(send, recv, count, dt, root, comm, stream);
}

mixcclResult_t reduce(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                      mixcclComm_t comm, mixcclStream_t stream) {
  return mixcclReduce(send, recv, count, dt, op, root, comm, stream);
}

double allReduceFactor(int n) { return 2.0 * (n - 1) / n; }
double gatherScatterFactor(int n) { return static_cast<double>(n - 1) / n; }
double oneFactor(int) { return 1.0; }

// name, callName, exactColl, hasOp, hasRoot, counts, call, busBwFactor
const Collective kCollectives[] = {
    {"all_reduce_perf", "mixcclAllReduce", 0, true, false, sameCounts, allReduce, allReduceFactor},
    {"all_gather_perf", "mixcclAllGather", 1, false, false, gatherCounts, allGather, gatherScatterFactor},
    {"reduce_scatter_perf", "mixcclReduceScatter", 2, true, false, scatterCounts, reduceScatter, gatherScatterFactor},
    {"broadcast_perf", "mixcclBroadcast", 3, false, true, sameCounts, broadcast, oneFactor},
    {"reduce_perf", "mixcclReduce", 4, true, true, sameCounts, reduce, oneFactor},
};

}  // namespace

const Collective* findCollective(const std::string& name) {
  for (const Collective& c : kCollectives) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace mixccl::perf

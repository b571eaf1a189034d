// reduce_scatter_perf: nccl-tests compatible benchmark of mixcclReduceScatter (see perf/README.md).
#include "common/perf_main.h"

namespace mixccl::perf {
namespace {

mixcclResult_t call(const void* send, void* recv, size_t recvCount, mixcclDataType_t dt, mixcclRedOp_t op, int,
                    mixcclComm_t comm) {
  return mixcclReduceScatter(send, recv, recvCount, dt, op, comm, nullptr);
}

double busBwFactor(int n) { return static_cast<double>(n - 1) / n; }

}  // namespace
}  // namespace mixccl::perf

int main(int argc, char** argv) {
  using namespace mixccl::perf;
  const Collective coll{"reduce_scatter_perf", "mixcclReduceScatter", 2, true, false, scatterCounts, call, busBwFactor};
  return perfMain(argc, argv, coll);
}

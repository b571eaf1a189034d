// all_reduce_perf: nccl-tests compatible benchmark of mixcclAllReduce (see perf/README.md).
#include "common/perf_main.h"

namespace mixccl::perf {
namespace {

mixcclResult_t call(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t op, int,
                    mixcclComm_t comm) {
  return mixcclAllReduce(send, recv, count, dt, op, comm, nullptr);
}

double busBwFactor(int n) { return 2.0 * (n - 1) / n; }

}  // namespace
}  // namespace mixccl::perf

int main(int argc, char** argv) {
  using namespace mixccl::perf;
  const Collective coll{"all_reduce_perf", "mixcclAllReduce", 0, true, false, sameCounts, call, busBwFactor};
  return perfMain(argc, argv, coll);
}

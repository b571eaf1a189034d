// reduce_perf: nccl-tests compatible benchmark of mixcclReduce (see perf/README.md).
#include "common/perf_main.h"

namespace mixccl::perf {
namespace {

mixcclResult_t call(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                    mixcclComm_t comm) {
  return mixcclReduce(send, recv, count, dt, op, root, comm, nullptr);
}

double busBwFactor(int) { return 1.0; }

}  // namespace
}  // namespace mixccl::perf

int main(int argc, char** argv) {
  using namespace mixccl::perf;
  const Collective coll{"reduce_perf", "mixcclReduce", 4, true, true, sameCounts, call, busBwFactor};
  return perfMain(argc, argv, coll);
}

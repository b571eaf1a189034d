// all_gather_perf: nccl-tests compatible benchmark of mixcclAllGather (see perf/README.md).
#include "common/perf_main.h"

namespace mixccl::perf {
namespace {

mixcclResult_t call(const void* send, void* recv, size_t sendCount, mixcclDataType_t dt, mixcclRedOp_t, int,
                    mixcclComm_t comm) {
  return mixcclAllGather(send, recv, sendCount, dt, comm, nullptr);
}

double busBwFactor(int n) { return static_cast<double>(n - 1) / n; }

}  // namespace
}  // namespace mixccl::perf

int main(int argc, char** argv) {
  using namespace mixccl::perf;
  const Collective coll{"all_gather_perf", "mixcclAllGather", 1, false, false, gatherCounts, call, busBwFactor};
  return perfMain(argc, argv, coll);
}

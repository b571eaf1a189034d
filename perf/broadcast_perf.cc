// broadcast_perf: nccl-tests compatible benchmark of mixcclBroadcast (see perf/README.md).
#include "common/perf_main.h"

namespace mixccl::perf {
namespace {

mixcclResult_t call(const void* send, void* recv, size_t count, mixcclDataType_t dt, mixcclRedOp_t, int root,
                    mixcclComm_t comm) {
  return mixcclBroadcast(send, recv, count, dt, root, comm, nullptr);
}

double busBwFactor(int) { return 1.0; }

}  // namespace
}  // namespace mixccl::perf

int main(int argc, char** argv) {
  using namespace mixccl::perf;
  const Collective coll{"broadcast_perf", "mixcclBroadcast", 3, false, true, sameCounts, call, busBwFactor};
  return perfMain(argc, argv, coll);
}

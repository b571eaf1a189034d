// all_reduce_perf: nccl-tests compatible benchmark of mixcclAllReduce (see perf/README.md).
#include "common/collective.h"
#include "common/perf_main.h"

int main(int argc, char** argv) {
  return mixccl::perf::perfMain(argc, argv, *mixccl::perf::findCollective("all_reduce_perf"));
}

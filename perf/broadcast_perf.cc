// broadcast_perf: nccl-tests compatible benchmark of mixcclBroadcast (see perf/README.md).
#include "common/collective.h"
#include "common/perf_main.h"

int main(int argc, char** argv) {
  return mixccl::perf::perfMain(argc, argv, *mixccl::perf::findCollective("broadcast_perf"));
}

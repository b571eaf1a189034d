// A *_perf tool whose ranks use the emulated GPU (tests/support/emulated_gpu.h) for their device buffers, so the
// tools' device path (device buffers, a stream per rank, copies in and out, stream-synchronised timing) runs in CI
// without a GPU:
//
//   perf_emulated_gpu <tool> [tool flags]      e.g.  perf_emulated_gpu all_reduce_perf -N 4 -b 8 -e 64K -f 8
//
// Each rank installs the emulation in its own process (after the -N fork), when the harness asks for its GPU. Its
// streams sleep 200 us before each operation (so that early reads show), or MIXCCL_TEST_EMULATED_DELAY_US: with 0 the
// times measure the host's own work (the copies are memcpy), as perf/shared_reduce_host_cost.sh compares.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/collective.h"
#include "common/perf_main.h"
#include "support/emulated_gpu.h"

namespace {

mixccl::GpuBackend* emulatedGpu(std::string*) {
  const char* delay = std::getenv("MIXCCL_TEST_EMULATED_DELAY_US");
  return &mixccl::testing::installEmulatedGpu(delay != nullptr ? unsigned(std::strtoul(delay, nullptr, 10)) : 200);
}

}  // namespace

int main(int argc, char** argv) {
  const mixccl::perf::Collective* coll = argc > 1 ? mixccl::perf::findCollective(argv[1]) : nullptr;
  if (coll == nullptr) {
    std::fprintf(stderr,
                 "usage: perf_emulated_gpu <all_reduce_perf|all_gather_perf|reduce_scatter_perf|broadcast_perf|"
                 "reduce_perf> [flags of that tool]\n");
    return 2;
  }
  argv[1] = argv[0];  // the tool's flags follow, as if the tool had been run
  return mixccl::perf::perfMain(argc - 1, argv + 1, *coll, emulatedGpu);
}

#pragma once
// Command-line options of the *_perf tools: the nccl-tests flags (see /work/shared/NCCL-TESTS-FORMAT.md) plus -N (fork
// local ranks), --bind, --memory and --json. parseOptions() never exits: it throws UsageError, which the caller turns
// into "message + usage + exit 2", so every rank and the -N parent agree on what a bad command line does.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "mixccl.h"

namespace mixccl::perf {

// A bad command line: unknown flag, missing or malformed value, inconsistent values.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How per-rank times are combined into the printed time (-a).
enum class Average { kRank0 = 0, kMean = 1, kMin = 2, kMax = 3 };

// Where the send and receive buffers live (--memory). kAuto: device memory when the rank finds a usable GPU,
// else host memory (as nccl-tests always use device buffers).
enum class MemoryMode { kAuto, kHost, kDevice };

struct Options {
  size_t minBytes = 32u << 20;                         // -b
  size_t maxBytes = 32u << 20;                         // -e
  size_t stepFactor = 1;                               // -f; <= 1 means "add stepBytes"
  size_t stepBytes = 1u << 20;                         // -i
  int iters = 20;                                      // -n: timed ops per size
  int warmupIters = 1;                                 // -w
  int checkIters = 1;                                  // -c: 0 disables the check (#wrong prints N/A)
  bool blocking = false;                               // -z: host buffers complete on return, so this only adds nothing
  Average average = Average::kMean;                    // -a
  std::vector<mixcclRedOp_t> ops{mixcclSum};           // -o
  std::vector<mixcclDataType_t> types{mixcclFloat32};  // -d
  bool allRoots = false;                               // -r all
  int root = 0;                                        // -r n
  int localRanks = 0;                                  // -N: 0 means ranks come from the launcher environment
  int threadsPerProcess = 1;                           // -t: ranks per -N process (threads sharing its GPU context)
  std::string jsonPath;                                // --json
  bool bindCores = true;                               // --bind core|none: pin each -N rank to CPUs/ranks CPUs of its own
  MemoryMode memory = MemoryMode::kAuto;               // --memory host|device|auto
};

// Parses argv (argv[0] is the program name). Throws UsageError.
Options parseOptions(int argc, char** argv);

// "32M" -> 33554432 (K/M/G are powers of 1024, case-insensitive). Throws UsageError naming `flag`.
size_t parseSize(const std::string& flag, const std::string& text);

// The usage text for `program` (a *_perf binary name).
std::string usageText(const std::string& program);

// Every size of the sweep, in order (min, then *factor or +step, while <= max).
std::vector<size_t> sizeSweep(const Options& options);

}  // namespace mixccl::perf

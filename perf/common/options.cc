#include "common/options.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

#include "core/datatype.h"

namespace mixccl::perf {
namespace {

long long parseInteger(const std::string& flag, const std::string& text, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0') throw UsageError(flag + ": '" + text + "' is not an integer");
  if (v < lo || v > hi) {
    throw UsageError(flag + ": " + text + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

int parseInt(const std::string& flag, const std::string& text, int lo, int hi) {
  return static_cast<int>(parseInteger(flag, text, lo, hi));
}

std::vector<mixcclRedOp_t> parseOps(const std::string& flag, const std::string& text) {
  if (text == "all") return {mixcclSum, mixcclProd, mixcclMax, mixcclMin, mixcclAvg};
  mixcclRedOp_t op;
  if (!parseRedOp(text.c_str(), &op)) throw UsageError(flag + ": unknown op '" + text + "' (sum prod max min avg all)");
  return {op};
}

std::vector<mixcclDataType_t> parseTypes(const std::string& flag, const std::string& text) {
  std::vector<mixcclDataType_t> types;
  if (text == "all") {
    for (int t = 0; t < mixcclNumTypes; ++t) types.push_back(static_cast<mixcclDataType_t>(t));
    return types;
  }
  mixcclDataType_t dt;
  if (!parseDataType(text.c_str(), &dt)) {
    throw UsageError(flag + ": unknown datatype '" + text +
                     "' (int8 uint8 int32 uint32 int64 uint64 half float "
                     "double bfloat16 f8e4m3 f8e5m2 all)");
  }
  return {dt};
}

// One flag: its short and long names and what its value does to the options.
struct FlagSpec {
  char shortName;
  const char* longName;
  std::function<void(Options&, const std::string& flag, const std::string& value)> apply;
};

const std::vector<FlagSpec>& flagSpecs() {
  static const std::vector<FlagSpec> kFlags = {
      {'b', "minbytes", [](Options& o, const std::string& f, const std::string& v) { o.minBytes = parseSize(f, v); }},
      {'e', "maxbytes", [](Options& o, const std::string& f, const std::string& v) { o.maxBytes = parseSize(f, v); }},
      {'f', "stepfactor",
       [](Options& o, const std::string& f, const std::string& v) { o.stepFactor = parseInteger(f, v, 1, 1 << 30); }},
      {'i', "stepbytes", [](Options& o, const std::string& f, const std::string& v) { o.stepBytes = parseSize(f, v); }},
      {'n', "iters",
       [](Options& o, const std::string& f, const std::string& v) { o.iters = parseInt(f, v, 1, 1 << 30); }},
      {'w', "warmup_iters",
       [](Options& o, const std::string& f, const std::string& v) { o.warmupIters = parseInt(f, v, 0, 1 << 30); }},
      {'c', "check",
       [](Options& o, const std::string& f, const std::string& v) { o.checkIters = parseInt(f, v, 0, 1 << 20); }},
      {'o', "op", [](Options& o, const std::string& f, const std::string& v) { o.ops = parseOps(f, v); }},
      {'d', "datatype", [](Options& o, const std::string& f, const std::string& v) { o.types = parseTypes(f, v); }},
      {'r', "root",
       [](Options& o, const std::string& f, const std::string& v) {
         o.allRoots = v == "all";
         if (!o.allRoots) o.root = parseInt(f, v, 0, std::numeric_limits<int>::max());
       }},
      {'z', "blocking",
       [](Options& o, const std::string& f, const std::string& v) { o.blocking = parseInt(f, v, 0, 1); }},
      {'a', "average",
       [](Options& o, const std::string& f, const std::string& v) { o.average = Average(parseInt(f, v, 0, 3)); }},
      {'N', "nranks",
       [](Options& o, const std::string& f, const std::string& v) { o.localRanks = parseInt(f, v, 1, 4096); }},
      {'\0', "bind",
       [](Options& o, const std::string& f, const std::string& v) {
         if (v != "core" && v != "none") throw UsageError(f + ": '" + v + "' is not core or none");
         o.bindCores = v == "core";
       }},
      {'\0', "memory",
       [](Options& o, const std::string& f, const std::string& v) {
         if (v == "host") {
           o.memory = MemoryMode::kHost;
         } else if (v == "device") {
           o.memory = MemoryMode::kDevice;
         } else if (v == "auto") {
           o.memory = MemoryMode::kAuto;
         } else {
           throw UsageError(f + ": '" + v + "' is not host, device or auto");
         }
       }},
      {'\0', "json",
       [](Options& o, const std::string& f, const std::string& v) {
         if (v.empty()) throw UsageError(f + ": needs a file name");
         o.jsonPath = v;
       }},
      // nccl-tests flags accepted for compatibility with their only meaningful value here.
      {'t', "nthreads",
       [](Options& o, const std::string& f, const std::string& v) { o.threadsPerProcess = parseInt(f, v, 1, 64); }},
      {'g', "ngpus",
       [](Options&, const std::string& f, const std::string& v) {
         parseInt(f + " (GPUs per thread; use -N)", v, 1, 1);
       }},
      {'G', "cudagraph",
       [](Options&, const std::string& f, const std::string& v) {
         parseInt(f + " (graphs are not supported)", v, 0, 0);
       }},
  };
  return kFlags;
}

const FlagSpec* findShort(char c) {
  for (const FlagSpec& s : flagSpecs()) {
    if (s.shortName == c) return &s;
  }
  return nullptr;
}

const FlagSpec* findLong(const std::string& name) {
  for (const FlagSpec& s : flagSpecs()) {
    if (name == s.longName) return &s;
  }
  return nullptr;
}

void checkConsistency(const Options& o) {
  if (o.minBytes > o.maxBytes) {
    throw UsageError("-b " + std::to_string(o.minBytes) + " is larger than -e " + std::to_string(o.maxBytes));
  }
  if (o.stepFactor <= 1 && o.stepBytes == 0 && o.minBytes != o.maxBytes) {
    throw UsageError("-i 0 with -f off would never reach -e");
  }
  if (o.threadsPerProcess > 1 && o.localRanks == 0) {
    throw UsageError("-t " + std::to_string(o.threadsPerProcess) + " needs -N (the processes whose threads are ranks)");
  }
  if (o.localRanks > 0 && o.localRanks * o.threadsPerProcess > 4096) {
    throw UsageError("-N " + std::to_string(o.localRanks) + " x -t " + std::to_string(o.threadsPerProcess) +
                     " is more than 4096 ranks");
  }
}

}  // namespace

size_t parseSize(const std::string& flag, const std::string& text) {
  if (text.empty()) throw UsageError(flag + ": needs a size");
  size_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 'K':
    case 'k':
      unit = size_t{1} << 10;
      break;
    case 'M':
    case 'm':
      unit = size_t{1} << 20;
      break;
    case 'G':
    case 'g':
      unit = size_t{1} << 30;
      break;
    default:
      break;
  }
  if (unit != 1) digits.pop_back();
  bool numeric = !digits.empty();
  for (char c : digits) numeric = numeric && c >= '0' && c <= '9';
  if (!numeric || digits.size() > 18) throw UsageError(flag + ": '" + text + "' is not a size (e.g. 8, 64K, 32M, 1G)");
  unsigned long long v = std::strtoull(digits.c_str(), nullptr, 10);
  if (v > std::numeric_limits<size_t>::max() / unit) throw UsageError(flag + ": '" + text + "' is too large");
  return static_cast<size_t>(v) * unit;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const FlagSpec* spec = nullptr;
    std::string value;
    bool haveValue = false;
    if (arg == "-h" || arg == "--help") throw UsageError("");
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      size_t eq = arg.find('=');
      spec = findLong(arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2));
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        haveValue = true;
      }
    } else if (arg.size() >= 2 && arg[0] == '-') {
      spec = findShort(arg[1]);
      if (arg.size() > 2) {
        value = arg.substr(2);
        haveValue = true;
      }
    } else {
      throw UsageError("unexpected argument '" + arg + "'");
    }
    if (spec == nullptr) throw UsageError("unknown flag '" + arg + "'");
    if (!haveValue) {
      if (i + 1 >= argc) throw UsageError(arg + ": needs a value");
      value = argv[++i];
    }
    std::string name =
        spec->shortName != '\0' ? std::string("-") + spec->shortName : std::string("--") + spec->longName;
    spec->apply(o, name, value);
  }
  checkConsistency(o);
  return o;
}

std::vector<size_t> sizeSweep(const Options& o) {
  std::vector<size_t> sizes;
  for (size_t s = o.minBytes; s <= o.maxBytes;) {
    sizes.push_back(s);
    size_t next = o.stepFactor > 1 ? s * o.stepFactor : s + o.stepBytes;
    if (next <= s) break;  // overflow, or a step of 0 with min == max
    s = next;
  }
  return sizes;
}

std::string usageText(const std::string& program) {
  return "usage: " + program +
         " [options]\n"
         "  -b, --minbytes <size>       smallest size (default 32M; K/M/G are "
         "powers of 1024)\n"
         "  -e, --maxbytes <size>       largest size (default 32M)\n"
         "  -f, --stepfactor <n>        multiply the size by n each step "
         "(default off)\n"
         "  -i, --stepbytes <size>      add this each step when -f is off "
         "(default 1M)\n"
         "  -n, --iters <n>             timed iterations per size (default "
         "20)\n"
         "  -w, --warmup_iters <n>      warm-up iterations per size (default "
         "1)\n"
         "  -c, --check <n>             correctness-check iterations (default "
         "1; 0: #wrong is N/A)\n"
         "  -o, --op <op>               sum prod max min avg, or all (default "
         "sum)\n"
         "  -d, --datatype <type>       int8 uint8 int32 uint32 int64 uint64 "
         "half float double bfloat16\n"
         "                              f8e4m3 f8e5m2, or all (default float)\n"
         "  -r, --root <n>              root of rooted collectives, or all "
         "(default 0)\n"
         "  -z, --blocking <0|1>        synchronise after every op (host "
         "buffers: always complete)\n"
         "  -a, --average <0-3>         combine rank times: 0 rank 0, 1 mean, "
         "2 min, 3 max (default 1)\n"
         "  -N, --nranks <n>            fork n local ranks (default: ranks "
         "from mpirun/srun/torchrun env)\n"
         "  -t, --nthreads <n>          with -N: n ranks per process, as threads (ranks of one process share\n"
         "                              its GPU context; -N p -t n is p x n ranks; default 1)\n"
         "      --bind <core|none>      with -N: pin rank r to its own block of CPUs/ranks CPUs when ranks <= CPUs\n"
         "                              (default core)\n"
         "      --memory <host|device>  buffers in host memory, or in GPU memory with one stream per rank\n"
         "                              (default auto: device when the rank finds a usable GPU, else host)\n"
         "      --json <file>           also write the rows as JSON (rank 0, "
         "atomically)\n"
         "  -g 1, -G 0                  accepted for nccl-tests compatibility\n"
         "  -h, --help                  this text\n";
}

}  // namespace mixccl::perf

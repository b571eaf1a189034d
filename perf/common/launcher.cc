#include "common/launcher.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "common/perf_error.h"
#include "common/sweep.h"

namespace mixccl::perf {
namespace {

// Opens the rank's memory (--memory); on failure prints why, naming `who`, and returns false.
bool openGpu(RankGpu& gpu, const Options& options, GpuProvider provider, int localRank, const std::string& program,
             const std::string& who) {
  try {
    gpu.open(options.memory, provider, localRank);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s: %s\n", program.c_str(), who.c_str(), e.what());
    return false;
  }
}

// Runs `body` on an initialised communicator and tears it down; returns the rank's exit code.
int runRank(mixcclComm_t comm, const RankGpu& gpu, const std::string& program, const RankBody& body) {
  RankContext ctx;
  ctx.comm = comm;
  ctx.gpu = gpu.gpu();
  ctx.stream = gpu.stream();
  ctx.device = gpu.device();
  int code = kExitError;
  try {
    checkResult(mixcclCommCount(comm, &ctx.nranks), "mixcclCommCount", comm);
    checkResult(mixcclCommUserRank(comm, &ctx.rank), "mixcclCommUserRank", comm);
    code = body(ctx);
  } catch (const UsageError& e) {
    if (ctx.rank == 0) std::fprintf(stderr, "%s: %s\n%s", program.c_str(), e.what(), usageText(program).c_str());
    code = kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d: %s\n", program.c_str(), ctx.rank, e.what());
    code = kExitError;
  }
  if (code == kExitOk || code == kExitWrong) {
    mixcclResult_t res = mixcclCommFinalize(comm);
    if (res == mixcclSuccess) res = mixcclCommDestroy(comm);
    if (res != mixcclSuccess) {
      std::fprintf(stderr, "%s: rank %d: destroying the communicator: %s: %s\n", program.c_str(), ctx.rank,
                   mixcclGetErrorString(res), mixcclGetLastError(nullptr));
      code = kExitError;
    }
  } else {
    mixcclCommAbort(comm);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  return code;
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    const char* meaning = code == kExitWrong ? " (wrong results)" : code == kExitUsage ? " (bad usage)" : "";
    return "exited with code " + std::to_string(code) + meaning;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "stopped with status " + std::to_string(status);
}

bool succeeded(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// "rank 3" for process 3 of one rank each; "ranks 4-7" for process 1 of 4 threads.
std::string ranksOf(size_t proc, int threads) {
  if (threads == 1) return "rank " + std::to_string(proc);
  const size_t first = proc * size_t(threads);
  return "ranks " + std::to_string(first) + "-" + std::to_string(first + size_t(threads) - 1);
}

// Waits for every child (process p runs ranks p*threads .. p*threads+threads-1); returns the tool's exit code.
int waitForChildren(const std::string& program, std::vector<pid_t>& pids, int threads) {
  using Clock = std::chrono::steady_clock;
  size_t remaining = pids.size();
  int exitCode = kExitOk;
  int firstFailed = -1;  // the process
  Clock::time_point deadline;
  bool killed = false;
  while (remaining > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, firstFailed >= 0 ? WNOHANG : 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "%s: waitpid: %s\n", program.c_str(), std::strerror(errno));
      return kExitError;
    }
    if (pid == 0) {  // a rank failed, others are still running
      if (!killed && Clock::now() > deadline) {
        for (size_t p = 0; p < pids.size(); ++p) {
          if (pids[p] <= 0) continue;
          std::fprintf(stderr, "%s: %s (pid %d) still running %d s after %s failed: killing it\n", program.c_str(),
                       ranksOf(p, threads).c_str(), pids[p], kFailureGraceSeconds,
                       ranksOf(size_t(firstFailed), threads).c_str());
          kill(pids[p], SIGKILL);
        }
        killed = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    size_t proc = 0;
    while (proc < pids.size() && pids[proc] != pid) ++proc;
    if (proc == pids.size()) continue;  // not one of ours
    pids[proc] = 0;
    --remaining;
    if (succeeded(status)) continue;
    std::fprintf(stderr, "%s: %s (pid %d) %s\n", program.c_str(), ranksOf(proc, threads).c_str(), pid,
                 describeStatus(status).c_str());
    if (firstFailed < 0) {
      firstFailed = static_cast<int>(proc);
      deadline = Clock::now() + std::chrono::seconds(kFailureGraceSeconds);
      exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : kExitError;
    }
  }
  return exitCode;
}

// CPUs this process may run on.
static int availableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

// Pins the calling thread (and the threads it creates later: the library's proxy and watchdog threads of its
// rank) to `count` CPUs from the first-th CPU this process may run on (best effort: a failure leaves it unpinned).
static void pinToCpus(int first, int count) {
  cpu_set_t allowed, mine;
  CPU_ZERO(&allowed);
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen >= first && seen < first + count) CPU_SET(cpu, &mine);
    ++seen;
  }
  if (CPU_COUNT(&mine) > 0) sched_setaffinity(0, sizeof(mine), &mine);
}

// One local rank from GPU selection to teardown (in a forked process, or a thread of one); returns its exit code.
int runLocalRank(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body,
                 const mixcclUniqueId& id, int rank, int nranks, int cpusPerRank) {
  if (cpusPerRank > 0) pinToCpus(rank * cpusPerRank, cpusPerRank);
  RankGpu gpu;  // the GPU is touched here, in the child, never in the parent; it outlives the communicator
  if (!openGpu(gpu, options, provider, rank, program, "rank " + std::to_string(rank))) return kExitError;
  mixcclComm_t comm = nullptr;
  mixcclResult_t initRes = mixcclCommInitRank(&comm, nranks, id, rank);
  if (initRes != mixcclSuccess) {
    std::fprintf(stderr, "%s: rank %d: mixcclCommInitRank: %s: %s\n", program.c_str(), rank,
                 mixcclGetErrorString(initRes), mixcclGetLastError(nullptr));
    return kExitError;
  }
  return runRank(comm, gpu, program, body);
}

// The ranks of process `proc` (-t of them, as threads; one runs on the calling thread); the first failing rank's
// exit code, else kExitOk.
int runLocalProcess(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body,
                    const mixcclUniqueId& id, int proc, int nranks, int cpusPerRank) {
  const int threads = options.threadsPerProcess;
  if (threads == 1) return runLocalRank(options, program, provider, body, id, proc, nranks, cpusPerRank);
  std::vector<int> codes(static_cast<size_t>(threads), kExitOk);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      codes[size_t(t)] =
          runLocalRank(options, program, provider, body, id, proc * threads + t, nranks, cpusPerRank);
    });
  }
  codes[0] = runLocalRank(options, program, provider, body, id, proc * threads, nranks, cpusPerRank);
  for (std::thread& th : pool) th.join();
  for (int code : codes) {
    if (code != kExitOk) return code;
  }
  return kExitOk;
}

int launchLocal(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body) {
  const int procs = options.localRanks;
  const int n = procs * options.threadsPerProcess;
  // Like mpirun's binding with PE=k: each rank gets its own block of cpus / n CPUs when they fit (its own thread
  // and the library's threads of that rank: a staged rank's proxy thread works while the rank's thread waits for
  // its stream, so one CPU each would make them take turns), else placement is left to the kernel.
  const int cpus = availableCpus();
  const int cpusPerRank = (options.bindCores && n <= cpus) ? cpus / n : 0;
  mixcclUniqueId id;
  mixcclResult_t res = mixcclGetUniqueId(&id);
  if (res != mixcclSuccess) {
    std::fprintf(stderr, "%s: mixcclGetUniqueId: %s: %s\n", program.c_str(), mixcclGetErrorString(res),
                 mixcclGetLastError(nullptr));
    return kExitError;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids(static_cast<size_t>(procs), 0);
  for (int p = 0; p < procs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      const int code = runLocalProcess(options, program, provider, body, id, p, n, cpusPerRank);
      std::fflush(nullptr);
      _exit(code);  // not exit(): the parent's atexit handlers and static
                    // destructors are not ours to run
    }
    if (pid < 0) {
      std::fprintf(stderr, "%s: fork for process %d: %s\n", program.c_str(), p, std::strerror(errno));
      for (pid_t q : pids) {
        if (q > 0) kill(q, SIGKILL);
      }
      for (pid_t q : pids) {
        if (q > 0) waitpid(q, nullptr, 0);
      }
      return kExitError;
    }
    pids[static_cast<size_t>(p)] = pid;
  }
  return waitForChildren(program, pids, options.threadsPerProcess);
}

int launchFromEnv(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body) {
  const int localRank = localRankFromEnv();
  RankGpu gpu;  // outlives the communicator
  if (!openGpu(gpu, options, provider, localRank, program, "local rank " + std::to_string(localRank))) {
    return kExitError;
  }
  mixcclComm_t comm = nullptr;
  mixcclResult_t res = mixcclCommInitFromEnv(&comm);
  if (res != mixcclSuccess) {
    std::fprintf(stderr,
                 "%s: mixcclCommInitFromEnv: %s: %s\n(run under "
                 "mpirun/srun/torchrun, or fork local ranks with -N n)\n",
                 program.c_str(), mixcclGetErrorString(res), mixcclGetLastError(nullptr));
    return kExitError;
  }
  return runRank(comm, gpu, program, body);
}

}  // namespace

int launchRanks(const Options& options, const std::string& program, GpuProvider provider, const RankBody& body) {
  return options.localRanks > 0 ? launchLocal(options, program, provider, body)
                                : launchFromEnv(options, program, provider, body);
}

}  // namespace mixccl::perf

#include "support/rank_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace mixccl::testing {

bool rankCheck(bool ok, int rank, const char* fmt, ...) {
  if (ok) return true;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  fprintf(stderr, "rank %d: %s\n", rank, buf);
  return false;
}

mixcclResult_t awaitAsyncError(mixcclComm_t comm, double seconds) {
  mixcclResult_t async = mixcclSuccess;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    mixcclCommGetAsyncError(comm, &async);
    if (async != mixcclSuccess || std::chrono::steady_clock::now() >= until) return async;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

mixcclComm_t initRankComm(int rank, int nranks, const mixcclUniqueId& id) {
  mixcclComm_t comm = nullptr;
  if (!rankCheck(mixcclCommInitRank(&comm, nranks, id, rank) == mixcclSuccess, rank, "init: %s",
                 mixcclGetLastError(nullptr)))
    return nullptr;
  return comm;
}

namespace {

// With MIXCCL_STACKS_DIR set (scripts/test.sh sets it), the thread stacks of each rank still running (status -1),
// which tools/stack_dump.cc writes there on SIGUSR1: what a hang was waiting for. Else empty strings.
std::vector<std::string> stacksOf(const std::vector<pid_t>& pids, const std::vector<int>& status) {
  std::vector<std::string> out(pids.size());
  const char* dir = std::getenv("MIXCCL_STACKS_DIR");
  if (dir == nullptr || dir[0] == 0) return out;
  for (size_t r = 0; r < pids.size(); ++r) {
    if (status[r] == -1) kill(pids[r], SIGUSR1);
  }
  sleep(2);  // the threads write one after another
  for (size_t r = 0; r < pids.size(); ++r) {
    if (status[r] != -1) continue;
    const std::string path = std::string(dir) + "/stacks-" + std::to_string(pids[r]) + ".txt";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    out[r] = "\n[its threads' stacks before the kill]\n";
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out[r].append(buf, n);
    std::fclose(f);
    std::remove(path.c_str());
  }
  return out;
}

}  // namespace

RankRunResult runRanks(int nranks, const RankBody& body, double timeoutSec) {
  RankRunResult result;
  mixcclUniqueId id;
  if (mixcclGetUniqueId(&id) != mixcclSuccess) {
    result.report = std::string("mixcclGetUniqueId failed: ") + mixcclGetLastError(nullptr);
    return result;
  }
  fflush(stdout);
  fflush(stderr);
  std::vector<pid_t> pids(nranks, -1);
  std::vector<int> pipes(nranks, -1);
  std::vector<std::string> outputs(nranks);
  std::vector<int> status(nranks, -1);
  for (int r = 0; r < nranks; ++r) {
    int fds[2];
    if (pipe(fds) != 0) {
      result.report = "pipe failed";
      return result;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      dup2(fds[1], STDERR_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[1]);
      for (int q = 0; q < r; ++q) close(pipes[q]);
      int rc = body(r, nranks, id);
      fflush(stdout);
      fflush(stderr);
      _exit(rc);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    pids[r] = pid;
    pipes[r] = fds[0];
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSec);
  int running = nranks;
  bool timedOut = false;
  while (running > 0) {
    std::vector<pollfd> pfds;
    for (int r = 0; r < nranks; ++r) {
      if (pipes[r] >= 0) pfds.push_back({pipes[r], POLLIN, 0});
    }
    if (!pfds.empty()) poll(pfds.data(), pfds.size(), 20);
    for (int r = 0; r < nranks; ++r) {
      if (pipes[r] < 0) continue;
      char buf[4096];
      ssize_t n;
      while ((n = read(pipes[r], buf, sizeof(buf))) > 0) outputs[r].append(buf, n);
      if (n == 0) {
        close(pipes[r]);
        pipes[r] = -1;
      }
    }
    for (int r = 0; r < nranks; ++r) {
      if (pids[r] > 0 && status[r] == -1) {
        int st = 0;
        if (waitpid(pids[r], &st, WNOHANG) == pids[r]) {
          status[r] = st;
          --running;
        }
      }
    }
    if (pfds.empty() && running > 0) usleep(5000);
    if (running > 0 && std::chrono::steady_clock::now() > deadline) {
      timedOut = true;
      const std::vector<std::string> stacks = stacksOf(pids, status);
      for (int r = 0; r < nranks; ++r) {
        if (status[r] == -1) kill(pids[r], SIGKILL);
      }
      for (int r = 0; r < nranks; ++r) {
        if (status[r] == -1) {
          waitpid(pids[r], &status[r], 0);
          outputs[r] += "\n[killed by the test harness after " + std::to_string(timeoutSec) + " s]" + stacks[size_t(r)];
        }
      }
      running = 0;
    }
  }
  for (int r = 0; r < nranks; ++r) {
    if (pipes[r] >= 0) {
      char buf[4096];
      ssize_t n;
      while ((n = read(pipes[r], buf, sizeof(buf))) > 0) outputs[r].append(buf, n);
      close(pipes[r]);
    }
  }
  result.ok = !timedOut;
  result.pids.assign(pids.begin(), pids.end());
  for (int r = 0; r < nranks; ++r) {
    int st = status[r];
    bool good = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!outputs[r].empty()) result.output += "--- rank " + std::to_string(r) + ":\n" + outputs[r] + "\n";
    if (good) continue;
    result.ok = false;
    char how[64];
    if (WIFEXITED(st)) {
      snprintf(how, sizeof(how), "exited with %d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
      snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(st));
    } else {
      snprintf(how, sizeof(how), "ended with status %d", st);
    }
    result.report += "rank " + std::to_string(r) + " " + how + ":\n" + outputs[r] + "\n";
  }
  return result;
}

}  // namespace mixccl::testing

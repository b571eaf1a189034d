#include "support/fake_bootstrap.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

namespace mixccl::test {

// The shared part; the allGather area (nranks * maxBytes) follows it.
struct FakeArenaState {
  alignas(64) std::atomic<uint32_t> arrived;
  alignas(64) std::atomic<uint32_t> generation;
};

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kDataOffset = 128;
static_assert(sizeof(FakeArenaState) <= kDataOffset);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class FakeBootstrap final : public Bootstrap {
 public:
  FakeBootstrap(FakeArenaState* state, int rank, int nranks, size_t maxBytes, double timeoutSec)
      : state_(state), rank_(rank), nranks_(nranks), maxBytes_(maxBytes), timeoutSec_(timeoutSec) {}

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }

  Result allGather(const void* mine, void* all, size_t bytes) override {
    if (bytes > maxBytes_) {
      return failf(mixcclInternalError, "fake bootstrap: allGather of %zu bytes exceeds the arena's %zu", bytes,
                   maxBytes_);
    }
    memcpy(data() + size_t(rank_) * maxBytes_, mine, bytes);
    MIXCCL_TRY(barrier());
    for (int r = 0; r < nranks_; ++r) {
      memcpy(static_cast<char*>(all) + size_t(r) * bytes, data() + size_t(r) * maxBytes_, bytes);
    }
    return barrier();  // nobody overwrites the area before everyone has read it
  }

  // Generation barrier: the last rank to arrive resets the count and opens the next generation.
  Result barrier() override {
    uint32_t gen = state_->generation.load(std::memory_order_acquire);
    if (state_->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == uint32_t(nranks_)) {
      state_->arrived.store(0, std::memory_order_relaxed);
      state_->generation.fetch_add(1, std::memory_order_release);
      return mixcclSuccess;
    }
    auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeoutSec_));
    for (int i = 0; state_->generation.load(std::memory_order_acquire) == gen; ++i) {
      if (i < 2000) {
        cpuRelax();
        continue;
      }
      sched_yield();
      if (Clock::now() > deadline) {
        return failf(mixcclRemoteError,
                     "fake bootstrap: rank %d timed out after %.1f s in a barrier (%u of %d "
                     "ranks arrived)",
                     rank_, timeoutSec_, state_->arrived.load(), nranks_);
      }
    }
    return mixcclSuccess;
  }

  Result send(int, uint32_t, const void*, size_t) override {
    return failf(mixcclInternalError, "fake bootstrap: send is not supported by the fake");
  }
  Result recv(int, uint32_t, void*, size_t) override {
    return failf(mixcclInternalError, "fake bootstrap: recv is not supported by the fake");
  }
  Result checkAlive() override { return mixcclSuccess; }
  bool peerClosed(int, std::string*) override { return false; }

 private:
  char* data() { return reinterpret_cast<char*>(state_) + kDataOffset; }

  FakeArenaState* state_;
  int rank_;
  int nranks_;
  size_t maxBytes_;
  double timeoutSec_;
};

bool readAvailable(int fd, std::string* out) {  // false at EOF or error
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

void writeAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n <= 0 && errno != EINTR) return;
    if (n > 0) done += size_t(n);
  }
}

[[noreturn]] void runChild(FakeBootstrapArena& arena, int rank, const RankBody& body) {
  std::string msg;
  try {
    std::unique_ptr<Bootstrap> boot = arena.join(rank);
    msg = body(*boot);
  } catch (const std::exception& e) {
    msg = std::string("exception: ") + e.what();
  } catch (...) {
    msg = "unknown exception";
  }
  fflush(stdout);
  if (msg.empty()) _exit(0);
  writeAll(2, "rank " + std::to_string(rank) + " failed: " + msg + "\n");
  _exit(1);
}

}  // namespace

FakeBootstrapArena::FakeBootstrapArena(int nranks, size_t maxBytesPerRank, double timeoutSec)
    : nranks_(nranks), maxBytes_((maxBytesPerRank + 63) / 64 * 64), timeoutSec_(timeoutSec) {
  mapBytes_ = kDataOffset + size_t(nranks) * maxBytes_;
  void* p = mmap(nullptr, mapBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("fake bootstrap: mmap failed: " + errnoString(errno));
  state_ = new (p) FakeArenaState{};
}

FakeBootstrapArena::~FakeBootstrapArena() { munmap(state_, mapBytes_); }

std::unique_ptr<Bootstrap> FakeBootstrapArena::join(int rank) {
  return std::make_unique<FakeBootstrap>(state_, rank, nranks_, maxBytes_, timeoutSec_);
}

std::vector<ChildOutcome> runForkedRanks(int nranks, double timeoutSec, const RankBody& body, double bootTimeoutSec) {
  FakeBootstrapArena arena(nranks, 4096, bootTimeoutSec);
  std::vector<ChildOutcome> outcomes(static_cast<size_t>(nranks));
  std::vector<pid_t> pids(size_t(nranks), -1);
  std::vector<int> fds(size_t(nranks), -1);
  fflush(stdout);
  fflush(stderr);
  for (int r = 0; r < nranks; ++r) {
    outcomes[size_t(r)].rank = r;
    int p[2];
    if (pipe(p) != 0) {
      outcomes[size_t(r)].output = "pipe failed: " + errnoString(errno);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(p[0]);
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
      dup2(p[1], 1);
      dup2(p[1], 2);
      close(p[1]);
      runChild(arena, r, body);
    }
    close(p[1]);
    if (pid < 0) {
      close(p[0]);
      outcomes[size_t(r)].output = "fork failed: " + errnoString(errno);
      continue;
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    pids[size_t(r)] = pid;
    fds[size_t(r)] = p[0];
  }

  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeoutSec));
  auto reap = [&](int r, int status) {
    ChildOutcome& o = outcomes[size_t(r)];
    if (WIFEXITED(status)) o.exitCode = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
    pids[size_t(r)] = -1;
  };
  for (;;) {
    std::vector<pollfd> pfds;
    for (int fd : fds) {
      if (fd >= 0) pfds.push_back(pollfd{fd, POLLIN, 0});
    }
    if (!pfds.empty()) poll(pfds.data(), pfds.size(), 5);
    for (int r = 0; r < nranks; ++r) {
      if (fds[size_t(r)] >= 0 && !readAvailable(fds[size_t(r)], &outcomes[size_t(r)].output)) {
        close(fds[size_t(r)]);
        fds[size_t(r)] = -1;
      }
      int status = 0;
      if (pids[size_t(r)] > 0 && waitpid(pids[size_t(r)], &status, WNOHANG) == pids[size_t(r)]) reap(r, status);
    }
    bool running = std::any_of(pids.begin(), pids.end(), [](pid_t p) { return p > 0; });
    if (!running) break;
    if (pfds.empty()) usleep(1000);
    if (Clock::now() > deadline) {
      for (int r = 0; r < nranks; ++r) {
        if (pids[size_t(r)] <= 0) continue;
        kill(pids[size_t(r)], SIGKILL);
        int status = 0;
        waitpid(pids[size_t(r)], &status, 0);
        reap(r, status);
        outcomes[size_t(r)].timedOut = true;
      }
      break;
    }
  }
  for (int r = 0; r < nranks; ++r) {  // the rest of the output of children that have ended
    if (fds[size_t(r)] < 0) continue;
    fcntl(fds[size_t(r)], F_SETFL, 0);
    std::string& out = outcomes[size_t(r)].output;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[size_t(r)], buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
    close(fds[size_t(r)]);
  }
  return outcomes;
}

std::string describeFailures(const std::vector<ChildOutcome>& outcomes, const std::vector<int>& mayBeKilled) {
  std::string text;
  for (const ChildOutcome& o : outcomes) {
    bool killedOk = o.signal == SIGKILL && !o.timedOut &&
                    std::find(mayBeKilled.begin(), mayBeKilled.end(), o.rank) != mayBeKilled.end();
    if ((o.exitCode == 0 && o.signal == 0) || killedOk) continue;
    if (o.timedOut) {
      text += strPrintf("rank %d timed out and was killed", o.rank);
    } else if (o.signal != 0) {
      text += strPrintf("rank %d was killed by signal %d (%s)", o.rank, o.signal, strsignal(o.signal));
    } else {
      text += strPrintf("rank %d exited with status %d", o.rank, o.exitCode);
    }
    text += o.output.empty() ? std::string(", no output\n") : ", output:\n" + o.output;
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  return text;
}

std::string strPrintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string s(size_t(n > 0 ? n : 0), '\0');
  if (n > 0) vsnprintf(s.data(), size_t(n) + 1, fmt, ap);
  va_end(ap);
  return s;
}

}  // namespace mixccl::test

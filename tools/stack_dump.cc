// Thread stacks on demand, for hangs on machines without a debugger (tests/gpu/run.sh). Linked into the test
// programs and the perf tools. When the environment has MIXCCL_STACKS_DIR at start, SIGUSR1 to a process makes
// each of its threads append its backtrace (glibc's; function names where the program exports them, as these are
// linked with -rdynamic) to <MIXCCL_STACKS_DIR>/stacks-<pid>.txt. Forked rank processes inherit the handlers.
// Without the variable nothing is installed.
#include <dirent.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

char dir[512];
std::atomic_flag printing = ATOMIC_FLAG_INIT;

// SIGUSR2, in each thread: its own stack, one thread at a time.
void printOwnStack(int) {
  while (printing.test_and_set(std::memory_order_acquire)) {
  }
  char path[600];
  std::snprintf(path, sizeof(path), "%s/stacks-%d.txt", dir, int(getpid()));
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    char head[96];
    const int len =
        std::snprintf(head, sizeof(head), "---- pid %d thread %ld\n", int(getpid()), long(syscall(SYS_gettid)));
    if (write(fd, head, size_t(len)) < 0) {
      // nothing to do: a diagnostic
    }
    void* frames[48];
    backtrace_symbols_fd(frames, backtrace(frames, 48), fd);
    close(fd);
  }
  printing.clear(std::memory_order_release);
}

// SIGUSR1, in whichever thread gets it: SIGUSR2 to every thread of the process.
void signalEveryThread(int) {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return;
  while (dirent* e = readdir(tasks)) {
    const long tid = std::atol(e->d_name);
    if (tid > 0) syscall(SYS_tgkill, int(getpid()), int(tid), SIGUSR2);
  }
  closedir(tasks);
}

struct InstallStackDump {
  InstallStackDump() {
    const char* where = std::getenv("MIXCCL_STACKS_DIR");
    if (where == nullptr || where[0] == '\0') return;
    std::snprintf(dir, sizeof(dir), "%s", where);
    void* warm[1];
    backtrace(warm, 1);  // loads what backtrace needs now, not inside a handler
    struct sigaction sa = {};
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = signalEveryThread;
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_handler = printOwnStack;
    sigaction(SIGUSR2, &sa, nullptr);
  }
} installStackDump;

}  // namespace

#include "support/small_dev_shm.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mixccl::testing {

std::string withSmallDevShm(int megabytes, const std::function<bool()>& check) {
  if (geteuid() != 0) return "skip: needs root for a mount namespace with a small /dev/shm";
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    alarm(240);  // a hang ends the child (SIGALRM), and with it the parent's read below
    const std::string size = "size=" + std::to_string(megabytes) + "m";
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", 0, size.c_str()) != 0) {
      std::printf("skip: no mount namespace with a tmpfs on /dev/shm here: %s\n", std::strerror(errno));
      std::fflush(stdout);
      _exit(0);
    }
    const bool ok = check();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, size_t(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out.rfind("skip: ", 0) == 0) return out;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : out + "\n(the child failed)";
}

}  // namespace mixccl::testing

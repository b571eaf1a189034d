#include "transports/shm/peer_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "core/log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same number on every architecture
#endif

namespace mixccl::detail {

PeerProcess::PeerProcess(int pid) : pid_(pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    pidfd_ = int(fd);
  } else if (errno == ESRCH) {
    exited_ = true;
  } else {
    MIXCCL_LOG(kInfo, "shm: pidfd_open(%d) unavailable (errno %d); using kill(pid, 0) for liveness", pid, errno);
  }
}

PeerProcess::~PeerProcess() {
  if (pidfd_ >= 0) close(pidfd_);
}

bool PeerProcess::exited() {
  if (exited_) return true;
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    exited_ = poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  } else {
    exited_ = kill(pid_, 0) != 0 && errno == ESRCH;
  }
  return exited_;
}

}  // namespace mixccl::detail

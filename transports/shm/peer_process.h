#pragma once
// Liveness of a peer process on this host, without signals and without being its parent.
//
// Uses a pidfd (pidfd_open, Linux >= 5.3): it becomes readable when the process exits, which also catches a
// zombie that kill(pid, 0) would still call alive. Where pidfd_open is unavailable (old kernel, seccomp), falls
// back to kill(pid, 0) == ESRCH. A pid is recycled only after the process is reaped, and the pidfd is opened
// while the peer is known alive (just after the segment exchange), so it names the right process.
//
// Not thread-safe; owned by one ShmTransport.
namespace mixccl::detail {

class PeerProcess {
 public:
  explicit PeerProcess(int pid);
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess();

  int pid() const { return pid_; }
  // Non-blocking: true once the process has exited (sticky).
  bool exited();

 private:
  int pid_;
  int pidfd_ = -1;  // -1: fall back to kill(pid, 0)
  bool exited_ = false;
};

}  // namespace mixccl::detail

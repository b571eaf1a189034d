#pragma once
// TCP socket utilities for the bootstrap: an owning fd, a socket address, a deadline, and non-blocking I/O
// that waits with poll(2) until a deadline.
//
// Contract: these functions never log and never call fail(); they return an IoStatus that the caller, who
// knows which rank or peer it was talking to, turns into one failf() with context (see failIo in wire.h).
// That also keeps them usable from the root thread, which must stay silent. Every socket is non-blocking and
// close-on-exec; every send uses MSG_NOSIGNAL; EINTR is retried. Thread-safe (no shared state) except Fd,
// which is owned by one thread at a time.
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mixccl::detail {

// An owned file descriptor, closed on destruction.
//
// Fork rule: every open Fd is entered in a process-wide table, and a pthread_atfork child handler closes all
// of them in the child. A forked child never uses its parent's bootstrap (the root thread does not exist
// there), and a copy kept open in the child would hide the parent's death or a closed root from the peers
// (no EOF, connections to a listening socket that nobody accepts). A stale Fd object in the child notices
// that its entry was cleared and does not close the number, which may have been reused.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd);
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
  int slot_ = -1;        // index in the fork table, -1 when not entered
  uint64_t ticket_ = 0;  // (generation << 32 | fd) written in the slot
};

// An IPv4 or IPv6 socket address.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  bool valid() const { return len > 0; }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  bool isLoopback() const;
  std::string host() const;  // numeric, "10.0.0.1" or "fe80::1"
  std::string str() const;   // "10.0.0.1:4567" or "[fe80::1]:4567"

  // From a numeric address ("10.0.0.1", "::1"); false if `host` is not one.
  static bool fromNumeric(const std::string& host, uint16_t port, SockAddr* out);
  // The wildcard / loopback address of `family` (AF_INET or AF_INET6).
  static SockAddr any(int family, uint16_t port);
  static SockAddr loopback(int family, uint16_t port);
};

// Resolves a host name or numeric address (IPv4 preferred). On failure returns false and sets *why to
// getaddrinfo's message.
bool resolveHost(const std::string& host, uint16_t port, SockAddr* out, std::string* why);

// A point in time after which waits give up.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  Deadline() = default;
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline after(double seconds);
  bool passed() const { return Clock::now() >= at_; }
  double remainingSec() const;
  // Milliseconds for poll(2): 0 when passed, rounded up, capped at `capMs`.
  int pollMs(int capMs = 1 << 30) const;
  Clock::time_point at() const { return at_; }
  Deadline min(Deadline other) const { return other.at_ < at_ ? other : *this; }

 private:
  Clock::time_point at_{};
};

enum class IoCode {
  kOk,
  kTimeout,  // the deadline passed
  kClosed,   // the peer closed the connection (EOF, EPIPE, ECONNRESET)
  kRefused,  // connect: nobody listens there (ECONNREFUSED)
  kError,    // another system error, in `err`
};

struct IoStatus {
  IoCode code = IoCode::kOk;
  int err = 0;  // errno for kError (and the last connect error for kTimeout/kRefused)
  bool ok() const { return code == IoCode::kOk; }
  // "timed out", "connection closed by the peer", "connection refused", or strerror.
  std::string describe() const;

  static IoStatus fromErrno(int err);
};

// Opens a listening socket on `addr` (port 0: ephemeral). `reuseAddr` sets SO_REUSEADDR (fixed ports).
// *bound receives the address actually bound (with the chosen port).
IoStatus listenOn(const SockAddr& addr, bool reuseAddr, Fd* out, SockAddr* bound);

// Connects to `addr`, retrying transient failures until `deadline`. A refused connection is retried too when
// `retryRefused` (the listener may not be up yet) and returned at once as kRefused otherwise.
IoStatus connectUntil(const SockAddr& addr, Deadline deadline, bool retryRefused, Fd* out);

// Accepts one pending connection without waiting; kTimeout when none is pending.
IoStatus acceptNow(int listenFd, Fd* out);

IoStatus sendAll(int fd, const void* data, size_t bytes, Deadline deadline);
IoStatus recvAll(int fd, void* data, size_t bytes, Deadline deadline);

// Reads what is available without waiting (at most `bytes`); *got = 0 and kOk when nothing is available.
IoStatus recvNow(int fd, void* data, size_t bytes, size_t* got);

// Sends `sendBytes` on `sendFd` while receiving `recvBytes` on `recvFd`, so that a ring of ranks that all send
// first cannot deadlock on full socket buffers. On failure *recvSide tells which side failed.
IoStatus sendRecv(int sendFd, const void* sendData, size_t sendBytes, int recvFd, void* recvData, size_t recvBytes,
                  Deadline deadline, bool* recvSide);

// Non-blocking: true if the peer of `fd` has closed its end or the connection failed.
bool peerClosed(int fd);

}  // namespace mixccl::detail

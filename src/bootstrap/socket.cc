#include "bootstrap/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "core/status.h"

namespace mixccl::detail {

// ---- SockAddr ----

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::setPort(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

bool SockAddr::isLoopback() const {
  if (family() == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr) >> 24) == 127;
  }
  if (family() == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  return false;
}

std::string SockAddr::host() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

std::string SockAddr::str() const {
  // Appended piece by piece: g++ 12 warns (-Wrestrict, falsely) about "[" + std::string.
  std::string s;
  if (family() == AF_INET6) s += '[';
  s += host();
  if (family() == AF_INET6) s += ']';
  s += ':';
  s += std::to_string(port());
  return s;
}

bool SockAddr::fromNumeric(const std::string& host, uint16_t port, SockAddr* out) {
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    a.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    a.len = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  a.setPort(port);
  *out = a;
  return true;
}

SockAddr SockAddr::any(int family, uint16_t port) {
  SockAddr a;
  fromNumeric(family == AF_INET6 ? "::" : "0.0.0.0", port, &a);
  return a;
}

SockAddr SockAddr::loopback(int family, uint16_t port) {
  SockAddr a;
  fromNumeric(family == AF_INET6 ? "::1" : "127.0.0.1", port, &a);
  return a;
}

bool resolveHost(const std::string& host, uint16_t port, SockAddr* out, std::string* why) {
  if (SockAddr::fromNumeric(host, port, out)) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    *why = gai_strerror(rc);
    return false;
  }
  const addrinfo* pick = nullptr;
  for (const addrinfo* p = list; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      pick = p;
      break;
    }
    if (p->ai_family == AF_INET6 && pick == nullptr) pick = p;
  }
  if (pick != nullptr) {
    SockAddr a;
    memcpy(&a.storage, pick->ai_addr, pick->ai_addrlen);
    a.len = pick->ai_addrlen;
    a.setPort(port);
    *out = a;
  } else {
    *why = "no IPv4 or IPv6 address";
  }
  freeaddrinfo(list);
  return pick != nullptr;
}

// ---- Deadline ----

Deadline Deadline::after(double seconds) {
  if (!(seconds > 0)) seconds = 0;
  seconds = std::min(seconds, 1e7);  // ~4 months: "forever" without overflowing the clock
  return Deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
}

double Deadline::remainingSec() const {
  return std::max(0.0, std::chrono::duration<double>(at_ - Clock::now()).count());
}

int Deadline::pollMs(int capMs) const {
  double ms = std::ceil(remainingSec() * 1e3);
  return static_cast<int>(std::min<double>(ms, capMs));
}

// ---- IoStatus ----

std::string IoStatus::describe() const {
  switch (code) {
    case IoCode::kOk:
      return "ok";
    case IoCode::kTimeout:
      return err != 0 ? "timed out (last error: " + errnoString(err) + ")" : "timed out";
    case IoCode::kClosed:
      return "connection closed by the peer";
    case IoCode::kRefused:
      return "connection refused";
    case IoCode::kError:
      return errnoString(err);
  }
  return "?";
}

IoStatus IoStatus::fromErrno(int err) {
  if (err == EPIPE || err == ECONNRESET) return {IoCode::kClosed, err};
  if (err == ECONNREFUSED) return {IoCode::kRefused, err};
  return {IoCode::kError, err};
}

// ---- I/O ----

namespace {

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Waits for `events` on one fd until the deadline; kOk when ready (including HUP/ERR: the next call tells).
IoStatus waitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, deadline.pollMs());
    if (rc > 0) return {};
    if (rc == 0) return {IoCode::kTimeout, 0};
    if (errno != EINTR) return IoStatus::fromErrno(errno);
  }
}

Fd newSocket(int family) { return Fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); }

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// One non-blocking connect attempt, waited for until the deadline.
IoStatus connectOnce(const SockAddr& addr, Deadline deadline, Fd* out) {
  Fd fd = newSocket(addr.family());
  if (!fd.valid()) return IoStatus::fromErrno(errno);
  int rc;
  do rc = connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.len);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EINPROGRESS) return IoStatus::fromErrno(errno);
    IoStatus st = waitFor(fd.get(), POLLOUT, deadline);
    if (!st.ok()) return st;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) return IoStatus::fromErrno(errno);
    if (err != 0) return IoStatus::fromErrno(err);
  }
  setNoDelay(fd.get());
  *out = std::move(fd);
  return {};
}

}  // namespace

IoStatus listenOn(const SockAddr& addr, bool reuseAddr, Fd* out, SockAddr* bound) {
  Fd fd = newSocket(addr.family());
  if (!fd.valid()) return IoStatus::fromErrno(errno);
  int one = 1;
  if (reuseAddr) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.len) != 0)
    return IoStatus::fromErrno(errno);
  if (listen(fd.get(), SOMAXCONN) != 0) return IoStatus::fromErrno(errno);
  SockAddr b;
  b.len = sizeof(b.storage);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&b.storage), &b.len) != 0) return IoStatus::fromErrno(errno);
  *bound = b;
  *out = std::move(fd);
  return {};
}

IoStatus connectUntil(const SockAddr& addr, Deadline deadline, bool retryRefused, Fd* out) {
  int backoffMs = 5;
  for (;;) {
    IoStatus st = connectOnce(addr, deadline, out);
    if (st.ok()) return st;
    bool transient;
    switch (st.code) {
      case IoCode::kRefused:
        transient = retryRefused;
        break;
      case IoCode::kTimeout:
      case IoCode::kClosed:
        transient = true;
        break;
      default:
        transient = st.err == ETIMEDOUT || st.err == ENETUNREACH || st.err == EHOSTUNREACH || st.err == EAGAIN ||
                    st.err == EADDRNOTAVAIL || st.err == EINTR;
    }
    if (!transient) return st;
    if (deadline.passed()) return {IoCode::kTimeout, st.err};
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(backoffMs, deadline.pollMs())));
    backoffMs = std::min(backoffMs * 2, 200);
  }
}

IoStatus acceptNow(int listenFd, Fd* out) {
  for (;;) {
    int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      *out = Fd(fd);
      setNoDelay(fd);
      return {};
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (wouldBlock(errno)) return {IoCode::kTimeout, 0};
    return IoStatus::fromErrno(errno);
  }
}

IoStatus sendAll(int fd, const void* data, size_t bytes, Deadline deadline) {
  return sendRecv(fd, data, bytes, -1, nullptr, 0, deadline, nullptr);
}

IoStatus recvAll(int fd, void* data, size_t bytes, Deadline deadline) {
  return sendRecv(-1, nullptr, 0, fd, data, bytes, deadline, nullptr);
}

IoStatus recvNow(int fd, void* data, size_t bytes, size_t* got) {
  *got = 0;
  for (;;) {
    ssize_t n = recv(fd, data, bytes, MSG_DONTWAIT);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return {};
    }
    if (n == 0) return bytes == 0 ? IoStatus{} : IoStatus{IoCode::kClosed, 0};
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return {};
    return IoStatus::fromErrno(errno);
  }
}

IoStatus sendRecv(int sendFd, const void* sendData, size_t sendBytes, int recvFd, void* recvData, size_t recvBytes,
                  Deadline deadline, bool* recvSide) {
  auto* out = static_cast<const char*>(sendData);
  auto* in = static_cast<char*>(recvData);
  size_t sent = 0, got = 0;
  auto failed = [&](bool onRecv, IoStatus st) {
    if (recvSide != nullptr) *recvSide = onRecv;
    return st;
  };
  while (sent < sendBytes || got < recvBytes) {
    // Try both directions first; poll only when neither can progress.
    bool progressed = false;
    if (sent < sendBytes) {
      ssize_t n = send(sendFd, out + sent, sendBytes - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progressed = true;
      } else if (n < 0 && errno != EINTR && !wouldBlock(errno)) {
        return failed(false, IoStatus::fromErrno(errno));
      }
    }
    if (got < recvBytes) {
      ssize_t n = recv(recvFd, in + got, recvBytes - got, MSG_DONTWAIT);
      if (n > 0) {
        got += static_cast<size_t>(n);
        progressed = true;
      } else if (n == 0) {
        return failed(true, {IoCode::kClosed, 0});
      } else if (errno != EINTR && !wouldBlock(errno)) {
        return failed(true, IoStatus::fromErrno(errno));
      }
    }
    if (progressed || (sent == sendBytes && got == recvBytes)) continue;
    pollfd p[2];
    nfds_t np = 0;
    if (sent < sendBytes) p[np++] = {sendFd, POLLOUT, 0};
    if (got < recvBytes) p[np++] = {recvFd, POLLIN, 0};
    int rc = poll(p, np, deadline.pollMs());
    if (rc == 0) return failed(got < recvBytes, {IoCode::kTimeout, 0});
    if (rc < 0 && errno != EINTR) return failed(false, IoStatus::fromErrno(errno));
  }
  return {};
}

bool peerClosed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  int rc;
  do rc = poll(&p, 1, 0);
  while (rc < 0 && errno == EINTR);
  return rc > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace mixccl::detail

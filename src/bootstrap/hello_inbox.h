#pragma once
// Collects the first message ("hello") of every connection that arrives on a listening socket, without letting
// a silent, slow or hostile client block the owner: connections are accepted and read only as data arrives,
// so any number of them may be half-way at once. Used by the root and by each rank's listener.
//
// Contract: single-threaded (one owner); never logs (the root thread uses it); never waits: the owner polls
// the fds it adds and then calls progress().
#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bootstrap/socket.h"

namespace mixccl::detail {

class HelloInbox {
 public:
  struct Arrival {
    Fd fd;
    std::vector<uint8_t> hello;  // exactly helloBytes
  };

  // Does not own `listenFd`.
  HelloInbox(int listenFd, size_t helloBytes) : listenFd_(listenFd), helloBytes_(helloBytes) {}

  // Appends the listener and the half-way connections to *fds, for the owner's poll(2).
  void addPollFds(std::vector<pollfd>* fds) const;

  // Accepts the pending connections and reads what has arrived; appends complete hellos to *out. A connection
  // that closes or fails before its hello is complete is dropped, and so is the oldest half-way one when more
  // than kMaxHalfway are waiting (a flood of strays cannot exhaust the fds).
  void progress(std::vector<Arrival>* out);

  static constexpr size_t kMaxHalfway = 256;

 private:
  struct Halfway {
    Fd fd;
    std::vector<uint8_t> buf;
    size_t got = 0;
  };
  int listenFd_;
  size_t helloBytes_;
  std::vector<Halfway> halfway_;
};

}  // namespace mixccl::detail

#pragma once
// A rank's listener: the connections other ranks open to it (the ring's previous rank at init, point-to-point
// senders later), each presenting a PeerHello with the job secret.
//
// Contract: owned by one Bootstrap, single-threaded. Connections with a wrong secret, magic, version or
// nranks, or an out-of-range rank, are dropped silently (a stray client must not break a job); a second
// connection claiming the same (kind, rank) is dropped too.
#include <map>
#include <utility>

#include "bootstrap/hello_inbox.h"
#include "bootstrap/wire.h"

namespace mixccl::detail {

class PeerAcceptor {
 public:
  PeerAcceptor(Fd listener, const uint8_t* secret, int nranks);

  // Waits until `rank` has opened its connection of `kind` and hands it over; connections of other ranks or
  // kinds that arrive meanwhile are kept for later calls. kTimeout when the deadline passes first.
  IoStatus take(PeerKind kind, int rank, Deadline deadline, Fd* out);

 private:
  void file(HelloInbox::Arrival arrival);

  Fd listener_;
  uint8_t secret_[kSecretBytes];
  int nranks_;
  HelloInbox inbox_;
  std::map<std::pair<PeerKind, int>, Fd> ready_;
  std::vector<pollfd> fds_;
  std::vector<HelloInbox::Arrival> arrivals_;
};

}  // namespace mixccl::detail

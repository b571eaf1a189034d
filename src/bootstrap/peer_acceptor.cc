#include "bootstrap/peer_acceptor.h"

#include <cerrno>
#include <cstring>

namespace mixccl::detail {

PeerAcceptor::PeerAcceptor(Fd listener, const uint8_t* secret, int nranks)
    : listener_(std::move(listener)), nranks_(nranks), inbox_(listener_.get(), kPeerHelloBytes) {
  memcpy(secret_, secret, kSecretBytes);
}

void PeerAcceptor::file(HelloInbox::Arrival arrival) {
  PeerHello h;
  if (!decodePeerHello(arrival.hello.data(), &h)) return;
  if (!secretEquals(h.secret, secret_) || h.nranks != nranks_ || h.rank < 0 || h.rank >= nranks_) return;
  auto key = std::make_pair(h.kind, static_cast<int>(h.rank));
  if (ready_.count(key) == 0) ready_.emplace(key, std::move(arrival.fd));
}

IoStatus PeerAcceptor::take(PeerKind kind, int rank, Deadline deadline, Fd* out) {
  auto key = std::make_pair(kind, rank);
  for (;;) {
    auto it = ready_.find(key);
    if (it != ready_.end()) {
      *out = std::move(it->second);
      ready_.erase(it);
      return {};
    }
    fds_.clear();
    inbox_.addPollFds(&fds_);
    int rc = poll(fds_.data(), fds_.size(), deadline.pollMs());
    if (rc < 0 && errno != EINTR) return IoStatus::fromErrno(errno);
    arrivals_.clear();
    inbox_.progress(&arrivals_);
    for (HelloInbox::Arrival& a : arrivals_) file(std::move(a));
    if (ready_.count(key) == 0 && deadline.passed()) return {IoCode::kTimeout, 0};
  }
}

}  // namespace mixccl::detail

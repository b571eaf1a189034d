#pragma once
// The TCP implementation of Bootstrap, once the root has handed out the address table.
//
// Connections, all opened by the side that sends on them and presenting a PeerHello with the secret:
//   ring   rank r -> rank r+1 (mod n), opened at init; carries the collectives (allGather, barrier). Each step
//          of a collective is a Frame whose word is the collective's sequence number, so ranks that call
//          different collectives (or different sizes) get a clear error instead of garbage.
//   p2p    rank r -> rank p, opened by r's first send() to p; one-way (p answers on its own p2p connection).
//          Frames carry the tag; recv() files frames with other tags in a queue for later recv() calls.
// send()/recv() to self go through the queue. A send() returns once the message is in the kernel's socket
// buffers: two ranks that send each other more than the buffers hold (~ hundreds of KiB) before receiving
// wait until the timeout, so bootstrap messages are meant to be small. After a failed send() or recv() the
// connection with that peer is closed (it may have stopped mid-frame); after a failed collective the ring is
// in an unknown state: either way the communicator is expected to be torn down.
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/peer_acceptor.h"
#include "bootstrap/socket.h"
#include "bootstrap/wire.h"

namespace mixccl::detail {

class TcpBootstrap final : public Bootstrap {
 public:
  // `peers` holds every rank's listener address (peers[rank] is this rank's, open as `listener`).
  TcpBootstrap(int rank, int nranks, double timeoutSec, const uint8_t* secret, std::vector<SockAddr> peers,
               Fd listener);

  // Opens the ring: connects to rank+1, accepts rank-1. Called once by bootstrapInit.
  Result connectRing(Deadline deadline);

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  Result allGather(const void* mine, void* all, size_t bytes) override;
  Result barrier() override;
  Result send(int peer, uint32_t tag, const void* data, size_t bytes) override;
  Result recv(int peer, uint32_t tag, void* data, size_t bytes) override;
  Result checkAlive() override;
  bool peerClosed(int peer, std::string* why) override;

 private:
  int next() const { return (rank_ + 1) % nranks_; }
  int prev() const { return (rank_ + nranks_ - 1) % nranks_; }
  std::string peerName(int peer) const;  // "rank 3 (10.0.0.7:41234)"
  PeerHello hello(PeerKind kind) const;
  Result checkPeer(const char* op, int peer) const;
  Result takeQueued(int peer, uint32_t tag, void* data, size_t bytes, bool* found);

  int rank_;
  int nranks_;
  double timeoutSec_;
  uint8_t secret_[kSecretBytes];
  std::vector<SockAddr> peers_;
  PeerAcceptor acceptor_;
  Fd next_, prev_;
  uint32_t collSeq_ = 0;
  std::vector<Fd> p2pOut_;  // by peer: the connection this rank opened to send
  std::vector<Fd> p2pIn_;   // by peer: the connection the peer opened to send to us
  std::map<std::pair<int, uint32_t>, std::deque<std::vector<uint8_t>>> queued_;  // (peer, tag) -> messages
};

}  // namespace mixccl::detail

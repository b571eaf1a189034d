// TcpBootstrap: construction, the ring, and the ring collectives (point-to-point is in p2p.cc).
#include "bootstrap/tcp_bootstrap.h"

#include <cstring>

namespace mixccl::detail {

TcpBootstrap::TcpBootstrap(int rank, int nranks, double timeoutSec, const uint8_t* secret, std::vector<SockAddr> peers,
                           Fd listener)
    : rank_(rank),
      nranks_(nranks),
      timeoutSec_(timeoutSec),
      peers_(std::move(peers)),
      acceptor_(std::move(listener), secret, nranks),
      p2pOut_(nranks),
      p2pIn_(nranks) {
  memcpy(secret_, secret, kSecretBytes);
}

std::string TcpBootstrap::peerName(int peer) const {
  return "rank " + std::to_string(peer) + " (" + peers_[peer].str() + ")";
}

PeerHello TcpBootstrap::hello(PeerKind kind) const {
  PeerHello h;
  h.kind = kind;
  memcpy(h.secret, secret_, kSecretBytes);
  h.rank = rank_;
  h.nranks = nranks_;
  return h;
}

Result TcpBootstrap::connectRing(Deadline deadline) {
  if (nranks_ == 1) return mixcclSuccess;
  IoStatus st = connectUntil(peers_[next()], deadline, /*retryRefused=*/false, &next_);
  if (!st.ok()) return failIo(st, timeoutSec_, "rank %d: connecting the ring to %s", rank_, peerName(next()).c_str());
  uint8_t buf[kPeerHelloBytes];
  encodePeerHello(hello(PeerKind::kRing), buf);
  st = sendAll(next_.get(), buf, sizeof(buf), deadline);
  if (!st.ok()) return failIo(st, timeoutSec_, "rank %d: greeting %s on the ring", rank_, peerName(next()).c_str());
  st = acceptor_.take(PeerKind::kRing, prev(), deadline, &prev_);
  if (!st.ok()) {
    return failIo(st, timeoutSec_, "rank %d: waiting for %s to connect the ring", rank_, peerName(prev()).c_str());
  }
  return mixcclSuccess;
}

// Ring all-gather. Block b is rank b's contribution. At step s (0 .. n-2) rank r sends block (r - s) mod n,
// which it owns (s = 0) or received at step s-1, to r+1, and receives block (r - s - 1) mod n from r-1; after
// n-1 steps every block has passed every rank. Each step moves a Frame {sequence number, bytes} then the block,
// sending and receiving at once (sendRecv) so that a ring of senders never deadlocks on full buffers.
Result TcpBootstrap::allGather(const void* mine, void* all, size_t bytes) {
  auto* blocks = static_cast<uint8_t*>(all);
  if (bytes > 0 && blocks + rank_ * bytes != mine) memmove(blocks + rank_ * bytes, mine, bytes);
  uint32_t seq = collSeq_++;
  if (nranks_ == 1) return mixcclSuccess;
  Deadline deadline = Deadline::after(timeoutSec_);
  uint8_t outHeader[kFrameHeaderBytes], inHeader[kFrameHeaderBytes];
  encodeFrameHeader({seq, bytes}, outHeader);
  for (int s = 0; s < nranks_ - 1; ++s) {
    int sendBlock = (rank_ - s + 2 * nranks_) % nranks_;
    int recvBlock = (rank_ - s - 1 + 2 * nranks_) % nranks_;
    bool recvSide = false;
    IoStatus st = sendRecv(next_.get(), outHeader, sizeof(outHeader), prev_.get(), inHeader, sizeof(inHeader), deadline,
                           &recvSide);
    if (st.ok()) {
      FrameHeader in = decodeFrameHeader(inHeader);
      if (in.word != seq || in.bytes != bytes) {
        return failf(mixcclInvalidUsage,
                     "rank %d: collective #%u (allGather of %zu bytes per rank) but %s sent collective #%u of %llu "
                     "bytes: the ranks did not call the same bootstrap collectives in the same order",
                     rank_, seq, bytes, peerName(prev()).c_str(), in.word, static_cast<unsigned long long>(in.bytes));
      }
      st = sendRecv(next_.get(), blocks + sendBlock * bytes, bytes, prev_.get(), blocks + recvBlock * bytes, bytes,
                    deadline, &recvSide);
    }
    if (!st.ok()) {
      return failIo(st, timeoutSec_, "rank %d: allGather #%u step %d/%d, %s %s", rank_, seq, s + 1, nranks_ - 1,
                    recvSide ? "receiving from" : "sending to", peerName(recvSide ? prev() : next()).c_str());
    }
  }
  return mixcclSuccess;
}

Result TcpBootstrap::barrier() {
  uint8_t mine = 0;
  std::vector<uint8_t> all(nranks_);
  return allGather(&mine, all.data(), 1);
}

bool TcpBootstrap::peerClosed(int peer, std::string* why) {
  if (peer < 0 || peer >= nranks_ || peer == rank_) return false;
  auto closed = [](const Fd& fd) { return fd.valid() && detail::peerClosed(fd.get()); };
  bool gone = (nranks_ > 1 && peer == prev() && closed(prev_)) || (nranks_ > 1 && peer == next() && closed(next_)) ||
              closed(p2pIn_[peer]) || closed(p2pOut_[peer]);
  if (gone) *why = peerName(peer) + " closed its bootstrap connection (its process ended?)";
  return gone;
}

Result TcpBootstrap::checkAlive() {
  auto check = [&](const Fd& fd, int peer) {
    if (!fd.valid() || !detail::peerClosed(fd.get())) return mixcclSuccess;
    return failf(mixcclRemoteError,
                 "rank %d: %s closed its bootstrap connection (its process ended or it destroyed its communicator)",
                 rank_, peerName(peer).c_str());
  };
  if (nranks_ > 1) {
    MIXCCL_TRY(check(prev_, prev()));
    MIXCCL_TRY(check(next_, next()));
  }
  for (int p = 0; p < nranks_; ++p) {
    MIXCCL_TRY(check(p2pIn_[p], p));
    MIXCCL_TRY(check(p2pOut_[p], p));
  }
  return mixcclSuccess;
}

}  // namespace mixccl::detail

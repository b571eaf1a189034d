// TcpBootstrap point-to-point messages (see tcp_bootstrap.h for the connections they use).
#include <cstring>

#include "bootstrap/tcp_bootstrap.h"

namespace mixccl::detail {

Result TcpBootstrap::checkPeer(const char* op, int peer) const {
  if (peer < 0 || peer >= nranks_) {
    return failf(mixcclInvalidArgument, "rank %d: bootstrap %s with peer %d, out of range [0, %d)", rank_, op, peer,
                 nranks_);
  }
  return mixcclSuccess;
}

Result TcpBootstrap::takeQueued(int peer, uint32_t tag, void* data, size_t bytes, bool* found) {
  *found = false;
  auto it = queued_.find({peer, tag});
  if (it == queued_.end()) return mixcclSuccess;
  std::vector<uint8_t>& msg = it->second.front();
  if (msg.size() != bytes) {
    return failf(mixcclInvalidUsage, "rank %d: recv of %zu bytes with tag %u from %s, which sent %zu bytes", rank_,
                 bytes, tag, peerName(peer).c_str(), msg.size());
  }
  if (bytes > 0) memcpy(data, msg.data(), bytes);
  it->second.pop_front();
  if (it->second.empty()) queued_.erase(it);
  *found = true;
  return mixcclSuccess;
}

Result TcpBootstrap::send(int peer, uint32_t tag, const void* data, size_t bytes) {
  MIXCCL_TRY(checkPeer("send", peer));
  if (peer == rank_) {
    auto* p = static_cast<const uint8_t*>(data);
    queued_[{peer, tag}].emplace_back(p, p + bytes);
    return mixcclSuccess;
  }
  Deadline deadline = Deadline::after(timeoutSec_);
  IoStatus st;
  if (!p2pOut_[peer].valid()) {
    Fd fd;
    st = connectUntil(peers_[peer], deadline, /*retryRefused=*/false, &fd);
    if (!st.ok()) return failIo(st, timeoutSec_, "rank %d: connecting to %s to send", rank_, peerName(peer).c_str());
    uint8_t buf[kPeerHelloBytes];
    encodePeerHello(hello(PeerKind::kP2p), buf);
    st = sendAll(fd.get(), buf, sizeof(buf), deadline);
    if (!st.ok()) return failIo(st, timeoutSec_, "rank %d: greeting %s", rank_, peerName(peer).c_str());
    p2pOut_[peer] = std::move(fd);
  }
  uint8_t header[kFrameHeaderBytes];
  encodeFrameHeader({tag, bytes}, header);
  st = sendAll(p2pOut_[peer].get(), header, sizeof(header), deadline);
  if (st.ok()) st = sendAll(p2pOut_[peer].get(), data, bytes, deadline);
  if (!st.ok()) {
    // A half-sent frame would desynchronise the stream: the connection is unusable from here on.
    p2pOut_[peer].reset();
    return failIo(st, timeoutSec_, "rank %d: sending %zu bytes with tag %u to %s", rank_, bytes, tag,
                  peerName(peer).c_str());
  }
  return mixcclSuccess;
}

Result TcpBootstrap::recv(int peer, uint32_t tag, void* data, size_t bytes) {
  MIXCCL_TRY(checkPeer("recv", peer));
  bool found = false;
  MIXCCL_TRY(takeQueued(peer, tag, data, bytes, &found));
  if (found) return mixcclSuccess;
  if (peer == rank_) {
    return failf(mixcclInvalidUsage, "rank %d: recv from itself with tag %u, but no such message was sent", rank_, tag);
  }
  Deadline deadline = Deadline::after(timeoutSec_);
  if (!p2pIn_[peer].valid()) {
    IoStatus st = acceptor_.take(PeerKind::kP2p, peer, deadline, &p2pIn_[peer]);
    if (!st.ok()) {
      return failIo(st, timeoutSec_, "rank %d: waiting for %s to connect and send tag %u", rank_,
                    peerName(peer).c_str(), tag);
    }
  }
  // Read frames from the peer until ours comes; frames with other tags are queued for later recv() calls.
  for (;;) {
    uint8_t raw[kFrameHeaderBytes];
    IoStatus st = recvAll(p2pIn_[peer].get(), raw, sizeof(raw), deadline);
    FrameHeader h{};
    if (st.ok()) {
      h = decodeFrameHeader(raw);
      if (h.word == tag && h.bytes != bytes) {
        p2pIn_[peer].reset();
        return failf(mixcclInvalidUsage, "rank %d: recv of %zu bytes with tag %u from %s, which sent %llu bytes", rank_,
                     bytes, tag, peerName(peer).c_str(), static_cast<unsigned long long>(h.bytes));
      }
      if (h.word == tag) {
        st = recvAll(p2pIn_[peer].get(), data, bytes, deadline);
        if (st.ok()) return mixcclSuccess;
      } else {
        std::vector<uint8_t> msg(h.bytes);
        st = recvAll(p2pIn_[peer].get(), msg.data(), msg.size(), deadline);
        if (st.ok()) queued_[{peer, h.word}].push_back(std::move(msg));
      }
    }
    if (!st.ok()) {
      p2pIn_[peer].reset();  // possibly mid-frame: unusable from here on
      return failIo(st, timeoutSec_, "rank %d: waiting for %zu bytes with tag %u from %s", rank_, bytes, tag,
                    peerName(peer).c_str());
    }
  }
}

}  // namespace mixccl::detail

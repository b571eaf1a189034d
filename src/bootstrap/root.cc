#include "bootstrap/root.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "bootstrap/hello_inbox.h"
#include "bootstrap/wire.h"

namespace mixccl::detail {
namespace {

// The root waits until a little before the earliest deadline a rank announced, so that the ranks still listen
// when it tells them which ranks are missing: 10% of the time that rank had left, within [20 ms, 2 s].
Deadline beforeRankGivesUp(uint32_t remainingMs) {
  double remaining = remainingMs / 1e3;
  double margin = std::min(2.0, std::max(0.02, remaining * 0.1));
  return Deadline::after(remaining - margin);
}

class RootServer {
 public:
  RootServer(Fd listener, const uint8_t* secret, double timeoutSec)
      : listener_(std::move(listener)),
        inbox_(listener_.get(), kRootHelloBytes),
        start_(Deadline::Clock::now()),
        deadline_(Deadline::after(timeoutSec)) {
    memcpy(secret_, secret, kSecretBytes);
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<HelloInbox::Arrival> arrivals;
    for (;;) {
      fds.clear();
      inbox_.addPollFds(&fds);
      size_t firstJoined = fds.size();
      for (int r : joinOrder_) fds.push_back({joined_[r].get(), POLLRDHUP, 0});
      int rc = poll(fds.data(), fds.size(), deadline_.pollMs());
      if (rc < 0 && errno != EINTR)
        return abortAll("the root failed to poll its sockets: errno " + std::to_string(errno));
      for (size_t i = firstJoined; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) continue;
        int r = joinOrder_[i - firstJoined];
        joined_[r].reset();
        return abortAll("rank " + std::to_string(r) + " left the rendezvous before all " + std::to_string(nranks_) +
                        " ranks had joined (its init failed or its process ended)");
      }
      arrivals.clear();
      inbox_.progress(&arrivals);
      for (HelloInbox::Arrival& a : arrivals) admit(std::move(a));
      if (nranks_ > 0 && static_cast<int>(joinOrder_.size()) == nranks_) return sendTable();
      if (deadline_.passed()) return abortAll(missingRanks());
    }
  }

 private:
  void admit(HelloInbox::Arrival a) {
    RootHello h;
    if (!decodeRootHello(a.hello.data(), &h) || !secretEquals(h.secret, secret_)) return;  // dropped
    char text[256];
    if (h.nranks < 1 || h.nranks > kMaxRanks) {
      snprintf(text, sizeof(text), "rank %d announced nranks=%d, out of range [1, %d]", h.rank, h.nranks, kMaxRanks);
      return reject(a.fd, mixcclInvalidUsage, text);
    }
    if (nranks_ > 0 && h.nranks != nranks_) {
      snprintf(text, sizeof(text), "rank %d announced nranks=%d but the ranks that joined before announced %d", h.rank,
               h.nranks, nranks_);
      return reject(a.fd, mixcclInvalidUsage, text);
    }
    if (h.rank < 0 || h.rank >= h.nranks) {
      snprintf(text, sizeof(text), "rank %d is out of range for %d ranks", h.rank, h.nranks);
      return reject(a.fd, mixcclInvalidUsage, text);
    }
    if (nranks_ < 0) {
      nranks_ = h.nranks;
      joined_.resize(nranks_);
      addresses_.resize(nranks_);
    }
    if (joined_[h.rank].valid()) {
      snprintf(text, sizeof(text),
               "rank %d already joined: is the unique id reused? (an id serves exactly one communicator)", h.rank);
      return reject(a.fd, mixcclRemoteError, text);
    }
    joined_[h.rank] = std::move(a.fd);
    addresses_[h.rank] = h.listener;
    joinOrder_.push_back(h.rank);
    deadline_ = deadline_.min(beforeRankGivesUp(h.remainingMs));
  }

  static void sendReply(int fd, uint32_t status, const void* payload, uint32_t length) {
    std::vector<uint8_t> msg(kRootReplyHeaderBytes + length);
    encodeRootReplyHeader({status, length}, msg.data());
    if (length > 0) memcpy(msg.data() + kRootReplyHeaderBytes, payload, length);
    sendAll(fd, msg.data(), msg.size(), Deadline::after(2.0));  // best effort: the rank may be gone
  }

  static void reject(const Fd& fd, Result code, const std::string& text) {
    sendReply(fd.get(), static_cast<uint32_t>(code), text.data(), static_cast<uint32_t>(text.size()));
  }

  void abortAll(const std::string& text) {
    for (int r : joinOrder_) {
      if (joined_[r].valid()) reject(joined_[r], mixcclRemoteError, text);
    }
  }

  void sendTable() {
    std::vector<uint8_t> table(static_cast<size_t>(nranks_) * kAddressBytes);
    for (int r = 0; r < nranks_; ++r) encodeAddress(addresses_[r], table.data() + r * kAddressBytes);
    for (int r = 0; r < nranks_; ++r) sendReply(joined_[r].get(), 0, table.data(), static_cast<uint32_t>(table.size()));
  }

  std::string missingRanks() const {
    if (nranks_ < 0) return "";
    double waited = std::chrono::duration<double>(Deadline::Clock::now() - start_).count();
    std::string list;
    int missing = 0;
    for (int r = 0; r < nranks_; ++r) {
      if (joined_[r].valid()) continue;
      if (++missing <= 16) list += (list.empty() ? "" : ", ") + std::to_string(r);
    }
    if (missing > 16) list += " and " + std::to_string(missing - 16) + " more";
    char text[512];
    snprintf(text, sizeof(text), "the root gave up after waiting %.1f s: rank%s %s of %d never joined", waited,
             missing > 1 ? "s" : "", list.c_str(), nranks_);
    return text;
  }

  Fd listener_;
  HelloInbox inbox_;
  uint8_t secret_[kSecretBytes];
  Deadline::Clock::time_point start_;
  Deadline deadline_;
  int nranks_ = -1;
  std::vector<Fd> joined_;           // by rank
  std::vector<SockAddr> addresses_;  // by rank
  std::vector<int> joinOrder_;
};

}  // namespace

Result startRoot(Fd listener, const uint8_t* secret, double timeoutSec) {
  try {
    auto server = std::make_unique<RootServer>(std::move(listener), secret, timeoutSec);
    std::thread([s = std::move(server)]() noexcept {
      try {
        s->run();
      } catch (...) {
        // Out of memory: the ranks see the connection close and report it.
      }
    }).detach();
  } catch (const std::system_error& e) {
    return failf(mixcclSystemError, "could not start the bootstrap root thread: %s", e.what());
  }
  return mixcclSuccess;
}

}  // namespace mixccl::detail

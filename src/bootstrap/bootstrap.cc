// bootstrapInit(): the rendezvous with the root, then the ring (see tcp_bootstrap.h).
#include "bootstrap/bootstrap.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <mutex>
#include <set>

#include "bootstrap/local_address.h"
#include "bootstrap/tcp_bootstrap.h"
#include "bootstrap/wire.h"
#include "core/log.h"

namespace mixccl {
namespace {

using detail::Deadline;
using detail::Fd;
using detail::IoCode;
using detail::IoStatus;
using detail::SockAddr;

// The (secret, rank) pairs this process has used for init. An id serves one communicator: using it again in
// the same process fails at once here; from another process, the root is gone and the connection is refused
// (or, while the first rendezvous still runs, the root answers that the rank already joined).
class UsedIds {
 public:
  static UsedIds& instance() {
    static UsedIds* ids = [] {
      auto* p = new UsedIds;  // never destroyed: ranks may init while the process exits
      // A fork while another thread holds the lock would leave it locked forever in the child.
      pthread_atfork([] { instance().mutex_.lock(); }, [] { instance().mutex_.unlock(); },
                     [] { instance().mutex_.unlock(); });
      return p;
    }();
    return *ids;
  }

  // Records (id, rank); false if it was recorded before.
  bool markUsed(const UniqueId& id, int rank) {
    Key key{};
    memcpy(key.data(), id.secret, sizeof(id.secret));
    memcpy(key.data() + sizeof(id.secret), &rank, sizeof(rank));
    std::lock_guard<std::mutex> lock(mutex_);
    return used_.insert(key).second;
  }

 private:
  using Key = std::array<uint8_t, sizeof(UniqueId::secret) + sizeof(int)>;
  std::mutex mutex_;
  std::set<Key> used_;
};

Result connectRoot(const UniqueId& id, const SockAddr& root, int rank, Deadline deadline, double timeoutSec, Fd* out) {
  IoStatus st = detail::connectUntil(root, deadline, /*retryRefused=*/!id.rootListening, out);
  if (st.code == IoCode::kRefused) {
    return failf(mixcclRemoteError,
                 "rank %d: the root at %s refused the connection: a root serves exactly one communicator and exits "
                 "after it, so this unique id was probably used already (or the process that created it ended)",
                 rank, root.str().c_str());
  }
  if (!st.ok())
    return detail::failIo(st, timeoutSec, "rank %d: connecting to the root at %s", rank, root.str().c_str());
  return mixcclSuccess;
}

// Presents this rank to the root and receives every rank's listener address.
Result joinRoot(const UniqueId& id, const SockAddr& root, int rank, int nranks, const SockAddr& listener,
                Deadline deadline, double timeoutSec, std::vector<SockAddr>* table) {
  Fd fd;
  MIXCCL_TRY(connectRoot(id, root, rank, deadline, timeoutSec, &fd));
  const std::string rootName = root.str();
  const char* at = rootName.c_str();

  detail::RootHello hello;
  memcpy(hello.secret, id.secret, sizeof(id.secret));
  hello.rank = rank;
  hello.nranks = nranks;
  hello.remainingMs = static_cast<uint32_t>(std::min<double>(deadline.remainingSec() * 1e3, UINT32_MAX));
  hello.listener = listener;
  uint8_t helloBytes[detail::kRootHelloBytes];
  detail::encodeRootHello(hello, helloBytes);
  IoStatus st = detail::sendAll(fd.get(), helloBytes, sizeof(helloBytes), deadline);
  if (!st.ok()) return detail::failIo(st, timeoutSec, "rank %d: greeting the root at %s", rank, at);

  uint8_t headerBytes[detail::kRootReplyHeaderBytes];
  st = detail::recvAll(fd.get(), headerBytes, sizeof(headerBytes), deadline);
  if (st.code == IoCode::kClosed) {
    return failf(mixcclRemoteError,
                 "rank %d: the root at %s closed the connection without answering: the unique id's secret does not "
                 "match (an id of another job?) or the root has ended",
                 rank, at);
  }
  if (!st.ok()) {
    return detail::failIo(st, timeoutSec,
                          "rank %d: waiting for the root at %s to send the address table (sent once all %d ranks "
                          "have joined)",
                          rank, at, nranks);
  }
  detail::RootReplyHeader header;
  if (!detail::decodeRootReplyHeader(headerBytes, &header)) {
    return failf(mixcclRemoteError, "rank %d: %s answered with an unknown message: is that a mixccl root?", rank, at);
  }
  if (header.status != 0) {
    std::string text(std::min(header.length, detail::kMaxErrorText), '\0');
    st = detail::recvAll(fd.get(), text.data(), text.size(), deadline);
    if (!st.ok()) text = "(its message was lost: " + st.describe() + ")";
    Result code = header.status == mixcclInvalidUsage ? mixcclInvalidUsage : mixcclRemoteError;
    return failf(code, "rank %d of %d: the root at %s refused us: %s", rank, nranks, at, text.c_str());
  }
  if (header.length != static_cast<uint64_t>(nranks) * detail::kAddressBytes) {
    return failf(mixcclRemoteError, "rank %d: the root at %s sent an address table of %u bytes, expected %d ranks",
                 rank, at, header.length, nranks);
  }
  std::vector<uint8_t> raw(header.length);
  st = detail::recvAll(fd.get(), raw.data(), raw.size(), deadline);
  if (!st.ok()) return detail::failIo(st, timeoutSec, "rank %d: receiving the address table from %s", rank, at);
  std::vector<SockAddr> peers(nranks);
  for (int r = 0; r < nranks; ++r) {
    if (!detail::decodeAddress(raw.data() + r * detail::kAddressBytes, &peers[r])) {
      return failf(mixcclRemoteError, "rank %d: the root at %s sent a malformed address for rank %d", rank, at, r);
    }
  }
  *table = std::move(peers);
  return mixcclSuccess;
}

}  // namespace

Result bootstrapInit(const UniqueId& id, int rank, int nranks, double timeoutSec, std::unique_ptr<Bootstrap>* out) {
  if (nranks < 1 || nranks > detail::kMaxRanks) {
    return failf(mixcclInvalidArgument, "bootstrap: nranks %d out of range [1, %d]", nranks, detail::kMaxRanks);
  }
  if (rank < 0 || rank >= nranks)
    return failf(mixcclInvalidArgument, "bootstrap: rank %d out of range [0, %d)", rank, nranks);
  if (!(timeoutSec > 0)) return failf(mixcclInvalidArgument, "bootstrap: timeout %g s is not positive", timeoutSec);
  SockAddr root;
  if (!SockAddr::fromNumeric(id.host, id.port, &root) || id.port == 0) {
    return failf(mixcclInvalidArgument, "bootstrap: the unique id's root address '%s' port %u is not a numeric address",
                 id.host.c_str(), id.port);
  }
  if (!UsedIds::instance().markUsed(id, rank)) {
    return failf(mixcclInvalidUsage,
                 "rank %d: unique id already used (by rank %d in this process): an id serves exactly one "
                 "communicator, create a new one (mixcclGetUniqueId) for each",
                 rank, rank);
  }
  Deadline deadline = Deadline::after(timeoutSec);

  // A root on loopback means every rank is on this host: listen on loopback too.
  SockAddr local = SockAddr::loopback(root.family(), 0);
  if (!root.isLoopback()) MIXCCL_TRY(detail::chooseLocalAddress(&local));
  Fd listener;
  SockAddr bound;
  IoStatus st = detail::listenOn(local, false, &listener, &bound);
  if (!st.ok()) {
    return failf(mixcclSystemError, "rank %d: could not listen on %s for the bootstrap: %s", rank, local.str().c_str(),
                 st.describe().c_str());
  }

  std::vector<SockAddr> peers;
  MIXCCL_TRY(joinRoot(id, root, rank, nranks, bound, deadline, timeoutSec, &peers));
  auto bootstrap = std::make_unique<detail::TcpBootstrap>(rank, nranks, timeoutSec, id.secret, std::move(peers),
                                                          std::move(listener));
  MIXCCL_TRY(bootstrap->connectRing(deadline));
  MIXCCL_LOG(kInfo, "bootstrap: rank %d of %d listening on %s, root %s", rank, nranks, bound.str().c_str(),
             root.str().c_str());
  *out = std::move(bootstrap);
  return mixcclSuccess;
}

}  // namespace mixccl

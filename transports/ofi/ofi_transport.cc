#include "transports/ofi/ofi_transport.h"

#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/config.h"
#include "core/log.h"
#include "transports/ofi/ofi_channels.h"
#include "transports/ofi/ofi_endpoint.h"
#include "transports/ofi/ofi_provider.h"

namespace mixccl {
namespace {

using detail::OfiChannelEnv;
using detail::OfiEndpoint;
using detail::OfiOp;
using detail::OfiPeer;
using detail::OfiRecvChannel;
using detail::OfiSendChannel;

constexpr int kLanes = 3;  // channels per peer pair: 0 collectives, 1 point-to-point, 2 the 2nd tree
// Slot geometry: MIXCCL_NET_SLOTS (>= 2: a fused step holds an input while it takes an output) staging slots of
// MIXCCL_NET_SLOT_BYTES (capped at the provider's max_msg_size) per channel, equal on every rank.
constexpr int kMinSlots = 2;
constexpr size_t kMinSlotBytes = 4096;
constexpr size_t kAddrBytes = 248;               // one endpoint name in the address exchange
constexpr size_t kAbortWordBytes = 64;           // per peer: the abort notice received (one cache line) ...
constexpr size_t kStagingAlign = 4096;           // ... and the one sent
constexpr uint64_t kTeardownNs = 2'000'000'000;  // how long teardown waits for sends and cancellations
constexpr uint64_t kAbortPushNs = 10'000'000;    // how long notifyAbort progresses its sends

// ESTIMATES, not measurements of this build (to be replaced by the perf tools' numbers across hosts): tcp over
// a 10-25 GbE link ~ 25 us one way and ~1 GB/s per pair; an RDMA provider (efa, verbs, cxi, psm3) ~ 3 us and
// ~10 GB/s per pair; the shm provider ~ 1 us and ~5 GB/s.
struct CostEstimate {
  double latencySec;
  double bandwidthBytesPerSec;
};
CostEstimate estimateCosts(const std::string& provider) {
  std::string core = provider.substr(0, provider.find(';'));
  if (core == "shm") return {1e-6, 5e9};
  if (core == "tcp" || core == "sockets" || core == "udp") return {25e-6, 1e9};
  return {3e-6, 10e9};
}

struct AddressRecord {
  int32_t ok;                 // 1: the rank opened an endpoint and `name` holds its address
  uint32_t len;               // bytes of `name` in use
  uint8_t name[kAddrBytes];
};

uint64_t nowNs() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

void napNs(long ns) {
  timespec ts{0, ns};
  nanosleep(&ts, nullptr);
}

class OfiTransport final : public Transport, public detail::OfiCompletionSink {
 public:
  OfiTransport(int rank, int nranks, const std::vector<int>& peers) : rank_(rank), peerIndex_(size_t(nranks), -1) {
    peers_.resize(peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      peers_[i].rank = peers[i];
      peerIndex_[size_t(peers[i])] = int(i);
    }
    spinNs_ = uint64_t(std::max<int64_t>(0, configInt(cfg::kSpinUs))) * 1000;
  }
  ~OfiTransport() override { teardown(); }

  // Collective part of the setup; see createOfiTransport.
  Result setUp(Bootstrap& boot, Result argsOk);

  const char* name() const override { return "ofi"; }
  const TransportCaps& caps() const override { return caps_; }
  bool reaches(int peer) const override { return peerIndexOf(peer) >= 0; }
  std::vector<HostRange> slotMemory() const override {
    if (staging_ == nullptr) return {};
    return {HostRange{staging_.get(), stagingBytes_}};
  }
  SendChannel* sendChannel(int peer, int lane) override {
    int i = peerIndexOf(peer);
    return i < 0 || lane < 0 || lane >= kLanes ? nullptr : send_[channelIndex(i, lane)].get();
  }
  RecvChannel* recvChannel(int peer, int lane) override {
    int i = peerIndexOf(peer);
    return i < 0 || lane < 0 || lane >= kLanes ? nullptr : recv_[channelIndex(i, lane)].get();
  }
  uint32_t eventToken() override {
    progress();
    return ep_ ? ep_->events() : 0;
  }
  void waitForEvent(uint32_t token, uint64_t timeoutNs) override;
  Result checkPeer(int peer, std::string* why) override;
  void notifyAbort(int culprit) override;
  int abortNotice() override {
    progress();
    return abortCulprit_;
  }

  void onCompletion(OfiOp* op, size_t len) override;
  void onError(OfiOp* op, int err, const std::string& text) override;

 private:
  int peerIndexOf(int peer) const {
    return peer < 0 || size_t(peer) >= peerIndex_.size() ? -1 : peerIndex_[size_t(peer)];
  }
  static size_t channelIndex(int peerIdx, int lane) { return size_t(peerIdx) * kLanes + size_t(lane); }
  // Staging layout: per (peer, lane) the send slots then the receive slots; after all of them, per peer, the
  // abort word received and the abort word sent.
  size_t channelBytes() const { return size_t(caps_.slotsPerChannel) * caps_.slotBytes; }
  char* channelStaging(int peerIdx, int lane, bool recv) const {
    return staging_.get() + (channelIndex(peerIdx, lane) * 2 + (recv ? 1 : 0)) * channelBytes();
  }
  int32_t* abortWord(int peerIdx, bool sent) const {
    char* base = staging_.get() + peers_.size() * kLanes * 2 * channelBytes();
    return reinterpret_cast<int32_t*>(base + (size_t(peerIdx) * 2 + (sent ? 1 : 0)) * kAbortWordBytes);
  }

  Result openFabric(fi_info* info);
  Result connectPeers(const std::vector<AddressRecord>& all);
  Result postAbortReceive(int peerIdx);
  static void progressThunk(void* self) { static_cast<OfiTransport*>(self)->progress(); }
  void progress();
  int outstanding() const;
  void teardown();

  int rank_;
  std::vector<int> peerIndex_;  // global rank -> index into peers_, -1 if not reached
  std::vector<OfiPeer> peers_;
  uint64_t spinNs_ = 0;
  TransportCaps caps_;
  std::string provider_;
  std::unique_ptr<OfiEndpoint> ep_;
  std::unique_ptr<char, decltype(&free)> staging_{nullptr, &free};
  size_t stagingBytes_ = 0;
  OfiChannelEnv env_;
  std::vector<std::unique_ptr<OfiSendChannel>> send_;  // by channelIndex
  std::vector<std::unique_ptr<OfiRecvChannel>> recv_;
  std::vector<OfiOp> abortRecvOps_, abortSendOps_;  // by peer index
  int tagBits_ = 64;
  bool directedRecv_ = false;  // the provider honours src_addr on receives (FI_DIRECTED_RECV)
  bool abortSent_ = false;
  int abortCulprit_ = -1;
};

Result OfiTransport::openFabric(fi_info* info) {
  provider_ = info->fabric_attr->prov_name;
  size_t maxMsg = info->ep_attr->max_msg_size;
  uint64_t tagFormat = info->ep_attr->mem_tag_format;
  int tagBits = tagFormat == 0 ? 64 : 64 - __builtin_clzll(tagFormat);
  bool directed = (info->caps & FI_DIRECTED_RECV) != 0;
  MIXCCL_TRY(OfiEndpoint::open(info, &ep_));  // owns info from here on
  if (tagBits < 48) {
    return failf(mixcclSystemError, "ofi: provider %s offers %d tag bits; the transport needs 48", provider_.c_str(),
                 tagBits);
  }
  if (maxMsg < 4096) {
    return failf(mixcclSystemError, "ofi: provider %s sends at most %zu bytes per message", provider_.c_str(), maxMsg);
  }
  CostEstimate cost = estimateCosts(provider_);
  caps_.latencySec = cost.latencySec;
  caps_.bandwidthBytesPerSec = cost.bandwidthBytesPerSec;
  caps_.memoryTypeMask = 1;  // host memory only
  caps_.slotBytes = std::min(size_t(std::max<int64_t>(int64_t(kMinSlotBytes), configInt(cfg::kNetSlotBytes))), maxMsg);
  // On rxm, a slot beyond the eager size would go by rendezvous (ofi_provider.h).
  if (provider_.find("ofi_rxm") != std::string::npos) caps_.slotBytes = std::min(caps_.slotBytes, detail::rxmEagerBytes());
  caps_.slotsPerChannel = int(std::clamp<int64_t>(configInt(cfg::kNetSlots), kMinSlots, 1024));
  caps_.maxLanes = kLanes;

  size_t bytes = peers_.size() * kLanes * 2 * channelBytes() + peers_.size() * 2 * kAbortWordBytes;
  bytes = (bytes + kStagingAlign - 1) / kStagingAlign * kStagingAlign;
  staging_.reset(static_cast<char*>(aligned_alloc(kStagingAlign, bytes)));
  if (staging_ == nullptr) return failf(mixcclSystemError, "ofi: cannot allocate %zu bytes of staging memory", bytes);
  memset(staging_.get(), 0, bytes);
  stagingBytes_ = bytes;
  MIXCCL_TRY(ep_->registerMemory(staging_.get(), bytes));

  env_.ep = ep_.get();
  env_.codec = detail::OfiTagCodec(tagBits);
  env_.slotBytes = caps_.slotBytes;
  env_.slots = caps_.slotsPerChannel;
  env_.ownRank = rank_;
  env_.progressAll = &OfiTransport::progressThunk;
  env_.transport = this;
  directedRecv_ = directed;
  tagBits_ = tagBits;
  return mixcclSuccess;
}

Result OfiTransport::postAbortReceive(int peerIdx) {
  OfiPeer& peer = peers_[size_t(peerIdx)];
  OfiOp& op = abortRecvOps_[size_t(peerIdx)];
  uint64_t tag = env_.codec.tag(detail::kOfiAbortLane, peer.rank, 0);
  for (int attempt = 0; attempt < 100000; ++attempt) {
    ssize_t ret = fi_trecv(ep_->ep(), abortWord(peerIdx, false), sizeof(int32_t), ep_->desc(), peer.srcAddr, tag, 0,
                           &op.fi);
    if (ret == 0) {
      op.posted = true;
      return mixcclSuccess;
    }
    if (ret != -FI_EAGAIN) {
      return failf(mixcclSystemError, "ofi: posting the abort receive from rank %d failed: %s", peer.rank,
                   detail::ofiErrorText(ret).c_str());
    }
    ep_->progress();
  }
  return failf(mixcclSystemError, "ofi: posting the abort receive from rank %d kept failing with EAGAIN", peer.rank);
}

Result OfiTransport::connectPeers(const std::vector<AddressRecord>& all) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    OfiPeer& p = peers_[i];
    const AddressRecord& rec = all[size_t(p.rank)];
    if (!rec.ok) return failf(mixcclRemoteError, "ofi: rank %d failed to open its endpoint (see its log)", p.rank);
    MIXCCL_TRY(ep_->insertPeer(rec.name, rec.len, p.rank, &p.addr));
    p.srcAddr = directedRecv_ ? p.addr : FI_ADDR_UNSPEC;  // the tag names the sender either way
  }
  size_t n = peers_.size() * kLanes;
  send_.resize(n);
  recv_.resize(n);
  abortRecvOps_.resize(peers_.size());
  abortSendOps_.resize(peers_.size());
  for (size_t i = 0; i < peers_.size(); ++i) {
    int idx = int(i);
    abortRecvOps_[i].sink = this;
    abortRecvOps_[i].slot = idx;
    abortSendOps_[i].sink = this;
    abortSendOps_[i].slot = idx;
    for (int lane = 0; lane < kLanes; ++lane) {
      send_[channelIndex(idx, lane)] =
          std::make_unique<OfiSendChannel>(&env_, &peers_[i], lane, channelStaging(idx, lane, false));
      recv_[channelIndex(idx, lane)] =
          std::make_unique<OfiRecvChannel>(&env_, &peers_[i], lane, channelStaging(idx, lane, true));
      MIXCCL_TRY(recv_[channelIndex(idx, lane)]->start());
    }
    MIXCCL_TRY(postAbortReceive(idx));
  }
  return mixcclSuccess;
}

// Every rank runs every collective step even after a local failure, so that no rank waits for one that gave up;
// the final status exchange makes all ranks fail together.
Result OfiTransport::setUp(Bootstrap& boot, Result argsOk) {
  const bool needsFabric = !peers_.empty();
  fi_info* info = nullptr;
  Result local = detail::ofiAgreeOnInfo(boot, needsFabric, argsOk, &info);
  if (local == mixcclSuccess && info != nullptr) local = openFabric(info);

  AddressRecord mine{};
  if (local == mixcclSuccess && ep_ != nullptr) {
    std::vector<uint8_t> name;
    local = ep_->localName(&name);
    if (local == mixcclSuccess && name.size() > kAddrBytes) {
      local = failf(mixcclSystemError, "ofi: the %s endpoint name has %zu bytes; the exchange carries %zu",
                    provider_.c_str(), name.size(), kAddrBytes);
    }
    if (local == mixcclSuccess) {
      mine.ok = 1;
      mine.len = uint32_t(name.size());
      memcpy(mine.name, name.data(), name.size());
    }
  }
  std::vector<AddressRecord> all(size_t(boot.nranks()));
  Result gathered = boot.allGather(&mine, all.data(), sizeof(mine));
  if (local == mixcclSuccess && gathered == mixcclSuccess && ep_ != nullptr) local = connectPeers(all);

  int32_t myStatus = local == mixcclSuccess && gathered == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> status(size_t(boot.nranks()));
  Result statusGathered = boot.allGather(&myStatus, status.data(), sizeof(myStatus));
  MIXCCL_TRY(local);
  MIXCCL_TRY(gathered);
  MIXCCL_TRY(statusGathered);
  for (size_t r = 0; r < status.size(); ++r) {
    if (status[r] != 0) return failf(mixcclRemoteError, "ofi: rank %zu failed to set up its ofi transport", r);
  }
  if (ep_ != nullptr) {
    MIXCCL_LOG(kInfo, "ofi: rank %d reaches %zu peers over %s (%d lanes x %d slots x %zu bytes, %d-bit tags)", rank_,
               peers_.size(), provider_.c_str(), kLanes, caps_.slotsPerChannel, caps_.slotBytes, tagBits_);
  }
  return mixcclSuccess;
}

void OfiTransport::progress() {
  if (ep_ == nullptr) return;
  ep_->progress();
  for (auto& s : send_) s->flush();
  for (auto& r : recv_) r->flush();
}

void OfiTransport::waitForEvent(uint32_t token, uint64_t timeoutNs) {
  if (ep_ == nullptr) {
    napNs(long(std::min<uint64_t>(timeoutNs, 50'000)));
    return;
  }
  progress();
  ep_->wait(token, timeoutNs, spinNs_);
  progress();  // posts queued while we slept
}

Result OfiTransport::checkPeer(int peer, std::string* why) {
  int i = peerIndexOf(peer);
  if (i < 0) return failf(mixcclInvalidArgument, "ofi: checkPeer(%d): rank %d does not reach it", peer, rank_);
  progress();
  const OfiPeer& p = peers_[size_t(i)];
  if (p.error.empty()) return mixcclSuccess;
  *why = "rank " + std::to_string(peer) + " is unreachable over ofi (" + provider_ + "): " + p.error;
  return mixcclRemoteError;
}

void OfiTransport::notifyAbort(int culprit) {
  if (ep_ == nullptr || abortSent_) return;
  abortSent_ = true;
  for (size_t i = 0; i < peers_.size(); ++i) {
    OfiPeer& p = peers_[i];
    *abortWord(int(i), true) = culprit;
    uint64_t tag = env_.codec.tag(detail::kOfiAbortLane, rank_, 0);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      ssize_t ret =
          fi_tsend(ep_->ep(), abortWord(int(i), true), sizeof(int32_t), ep_->desc(), p.addr, tag, &abortSendOps_[i].fi);
      if (ret == 0) abortSendOps_[i].posted = true;
      if (ret != -FI_EAGAIN) break;
      ep_->progress();
    }
  }
  // Best effort: push the notices out for a moment (teardown waits for them too).
  const uint64_t end = nowNs() + kAbortPushNs;
  for (;;) {
    progress();
    bool pending = false;
    for (const OfiOp& op : abortSendOps_) pending |= op.posted;
    if (!pending || nowNs() >= end) break;
    napNs(20'000);
  }
}

void OfiTransport::onCompletion(OfiOp* op, size_t) {
  if (op == &abortRecvOps_[size_t(op->slot)] && abortCulprit_ < 0) abortCulprit_ = *abortWord(op->slot, false);
}

void OfiTransport::onError(OfiOp* op, int err, const std::string& text) {
  if (err == FI_ECANCELED || op != &abortRecvOps_[size_t(op->slot)]) return;  // abort sends are best effort
  peers_[size_t(op->slot)].setError("the abort receive from rank " + std::to_string(peers_[size_t(op->slot)].rank) +
                                    " failed: " + text);
}

int OfiTransport::outstanding() const {
  int n = 0;
  for (const auto& s : send_) n += s->inFlight();
  for (const auto& r : recv_) n += r->posted();
  for (const OfiOp& op : abortRecvOps_) n += op.posted;
  for (const OfiOp& op : abortSendOps_) n += op.posted;
  return n;
}

// Sends still in flight get a bounded time to complete (a peer may still be receiving the last message of a
// collective); posted receives are cancelled and their cancellations drained; then the endpoint closes.
void OfiTransport::teardown() {
  if (ep_ == nullptr) return;
  for (auto& r : recv_) r->cancelAll();
  for (OfiOp& op : abortRecvOps_) {
    if (op.posted) fi_cancel(&ep_->ep()->fid, &op.fi);
  }
  const uint64_t end = nowNs() + kTeardownNs;
  int left = 0;
  while ((left = outstanding()) > 0 && nowNs() < end) {
    progress();
    napNs(50'000);
  }
  if (left > 0) {
    MIXCCL_LOG(kInfo, "ofi: rank %d closes its endpoint with %d operations still posted (peers gone?)", rank_, left);
  }
  send_.clear();
  recv_.clear();
  ep_.reset();  // closes ep, av, cq, mr, domain, fabric in that order
}

Result validatePeers(const Bootstrap& boot, const std::vector<int>& peers) {
  bool sorted = std::is_sorted(peers.begin(), peers.end()) &&
                std::adjacent_find(peers.begin(), peers.end()) == peers.end();
  bool inRange = peers.empty() || (peers.front() >= 0 && peers.back() < boot.nranks());
  if (!sorted || !inRange || std::binary_search(peers.begin(), peers.end(), boot.rank())) {
    return failf(mixcclInvalidArgument,
                 "ofi: rank %d: peers must be sorted, unique, within [0, %d) and exclude this rank", boot.rank(),
                 boot.nranks());
  }
  if (boot.nranks() > (1 << 24)) {
    return failf(mixcclInvalidArgument, "ofi: %d ranks do not fit the 24-bit rank field of the tag", boot.nranks());
  }
  return mixcclSuccess;
}

}  // namespace

Result createOfiTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out) {
  Result argsOk = validatePeers(boot, peers);
  auto transport = std::make_unique<OfiTransport>(boot.rank(), boot.nranks(),
                                                  argsOk == mixcclSuccess ? peers : std::vector<int>{});
  MIXCCL_TRY(transport->setUp(boot, argsOk));
  *out = std::move(transport);
  return mixcclSuccess;
}

}  // namespace mixccl

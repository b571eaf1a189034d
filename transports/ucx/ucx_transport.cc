#include "transports/ucx/ucx_transport.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "transports/shm/peer_process.h"
#include "transports/ucx/ucx_channels.h"
#include "transports/ucx/ucx_endpoints.h"
#include "transports/ucx/ucx_worker.h"

namespace mixccl {
namespace {

using detail::UcxPeer;
using detail::UcxRecvChannel;
using detail::UcxSendChannel;
using detail::UcxSlot;
using detail::UcxWorker;
using Clock = std::chrono::steady_clock;

constexpr int kLanes = 3;  // channels per peer pair: 0 collectives, 1 point-to-point, 2 the 2nd tree
// Slot geometry: MIXCCL_NET_SLOTS (>= 2: a fused step holds an input while it acquires an output) slots of
// MIXCCL_NET_SLOT_BYTES per channel, equal on every rank so that a receive is never shorter than a message.
constexpr int kMinSlots = 2;
constexpr size_t kMinSlotBytes = 4096;
constexpr double kCloseTimeoutSec = 1.0;      // teardown: longest wait for endpoint closes
constexpr double kDrainTimeoutSec = 0.5;      // teardown / abort: longest wait for requests to finish

// ESTIMATES, not measurements of the fabric in use (we do not query ucp_ep_evaluate_perf yet): roughly TCP over a
// 25 Gb/s NIC. For scale, UCX over TCP loopback on the 2-core dev VM: ucx_perftest 6.6 us one way, 5.5 GB/s
// one way; all_reduce_perf -N 2 over this transport 0.6-1.2 GB/s bus bandwidth.
constexpr double kLatencyEstimateSec = 10e-6;          // one small message, one way
constexpr double kBandwidthEstimateBytesPerSec = 2.5e9;  // one pair, large messages

class UcxTransport final : public Transport {
 public:
  UcxTransport(int rank, int nranks, std::vector<int> peers) : rank_(rank), peerRanks_(std::move(peers)),
                                                               peerIndex_(size_t(nranks), -1) {
    for (size_t i = 0; i < peerRanks_.size(); ++i) peerIndex_[size_t(peerRanks_[i])] = int(i);
    caps_.latencySec = kLatencyEstimateSec;
    caps_.bandwidthBytesPerSec = kBandwidthEstimateBytesPerSec;
    caps_.memoryTypeMask = 1;  // host memory only
    caps_.slotBytes = size_t(std::max<int64_t>(int64_t(kMinSlotBytes), configInt(cfg::kNetSlotBytes)));
    caps_.slotsPerChannel = int(std::clamp<int64_t>(configInt(cfg::kNetSlots), kMinSlots, 1024));
    caps_.maxLanes = kLanes;
  }
  ~UcxTransport() override;

  // Collective part of the setup; see createUcxTransport.
  Result setUp(Bootstrap& boot, Result argsOk);

  const char* name() const override { return "ucx"; }
  const TransportCaps& caps() const override { return caps_; }
  bool reaches(int peer) const override { return index(peer) >= 0; }
  std::vector<HostRange> slotMemory() const override {
    if (worker_ == nullptr) return {};
    return {HostRange{worker_->memory(), worker_->memoryBytes()}};
  }
  SendChannel* sendChannel(int peer, int lane) override {
    int i = index(peer);
    return i < 0 || lane < 0 || lane >= kLanes || send_.empty() ? nullptr : send_[channel(i, lane)].get();
  }
  RecvChannel* recvChannel(int peer, int lane) override {
    int i = index(peer);
    return i < 0 || lane < 0 || lane >= kLanes || recv_.empty() ? nullptr : recv_[channel(i, lane)].get();
  }
  uint32_t eventToken() override;
  void waitForEvent(uint32_t token, uint64_t timeoutNs) override;
  Result checkPeer(int peer, std::string* why) override;
  void notifyAbort(int culprit) override;
  int abortNotice() override;

 private:
  int index(int peer) const {
    return peer < 0 || size_t(peer) >= peerIndex_.size() ? -1 : peerIndex_[size_t(peer)];
  }
  static size_t channel(int i, int lane) { return size_t(i) * kLanes + size_t(lane); }
  Result connect(const std::vector<detail::UcxRankRecord>& records, const std::vector<std::vector<char>>& addresses);
  // Progresses until no slot in `slots` is pending or `timeoutSec` passes.
  void drain(const std::vector<UcxSlot*>& slots, double timeoutSec);
  std::vector<UcxSlot*> allSlots();

  int rank_;
  std::vector<int> peerRanks_;  // peer index -> global rank
  std::vector<int> peerIndex_;  // global rank -> peer index, -1 if not reached through UCX
  TransportCaps caps_;
  uint64_t spinNs_ = 0;
  bool peerErrorMode_ = true;  // endpoints report peer failures (false: UCX cannot; only the pid watch does)
  std::unique_ptr<UcxWorker> worker_;
  std::vector<UcxPeer> peers_;  // by peer index; channels point into it, so it is never resized after setUp
  std::vector<detail::UcxRankRecord> records_;
  std::vector<std::unique_ptr<detail::PeerProcess>> processes_;  // same-host peers' pids, else null
  std::vector<std::unique_ptr<UcxSendChannel>> send_;  // by channel()
  std::vector<std::unique_ptr<UcxRecvChannel>> recv_;
  // The abort notice: one pre-posted receive (lane kAbortLane, sequence 0) per peer and one send per peer.
  std::vector<int32_t> abortIn_, abortOut_;
  std::vector<UcxSlot> abortRecv_, abortSend_;
  bool abortSent_ = false;
  int abortCulprit_ = -1;
};

Result UcxTransport::setUp(Bootstrap& boot, Result argsOk) {
  Result local = argsOk;
  const size_t channelBytes = size_t(caps_.slotsPerChannel) * caps_.slotBytes;
  if (local == mixcclSuccess && !peerRanks_.empty()) {
    local = UcxWorker::create(rank_, peerRanks_.size() * kLanes * 2 * channelBytes, caps_.slotBytes, &worker_);
  }
  std::vector<std::vector<char>> addresses;
  Result exchanged = detail::exchangeAddresses(boot, local == mixcclSuccess ? worker_.get() : nullptr, &records_,
                                               &addresses);
  if (local == mixcclSuccess) local = exchanged;
  if (local == mixcclSuccess && worker_ != nullptr) local = connect(records_, addresses);

  int32_t myStatus = local == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> status(size_t(boot.nranks()));
  MIXCCL_TRY(boot.allGather(&myStatus, status.data(), sizeof(myStatus)));
  MIXCCL_TRY(local);
  for (size_t r = 0; r < status.size(); ++r) {
    if (status[r] != 0) return failf(mixcclRemoteError, "ucx: rank %zu failed to set up its UCX transport", r);
  }
  if (!peers_.empty()) {
    const char* tls = getenv("UCX_TLS");
    MIXCCL_LOG(kInfo, "ucx: rank %d reaches %zu peers through %s (UCX %s, UCX_TLS=%s; %d lanes x %d slots x %zu "
               "bytes, %s sends, spin %llu ns%s)", rank_, peers_.size(), detail::describeEndpoint(peers_[0].ep).c_str(),
               ucp_get_version_string(), tls != nullptr ? tls : "(default)", kLanes, caps_.slotsPerChannel,
               caps_.slotBytes, peers_[0].eagerSends ? "eager" : "rendezvous", (unsigned long long)spinNs_,
               peerErrorMode_ ? "" : "; UCX cannot report peer failures here, only same-host peers are watched");
  }
  return mixcclSuccess;
}

Result UcxTransport::connect(const std::vector<detail::UcxRankRecord>& records,
                             const std::vector<std::vector<char>>& addresses) {
  const size_t n = peerRanks_.size();
  peers_.resize(n);
  processes_.resize(n);
  int sameHost = 1;
  for (size_t i = 0; i < n; ++i) {
    int r = peerRanks_[i];
    peers_[i].rank = r;
    peers_[i].worker = worker_.get();
    if (addresses[size_t(r)].empty()) {
      return failf(mixcclRemoteError, "ucx: rank %d: rank %d published no UCX worker address", rank_, r);
    }
    MIXCCL_TRY(detail::createEndpoint(&peers_[i], addresses[size_t(r)], rank_, &peerErrorMode_));
    peers_[i].eagerSends = detail::endpointIsTcpOnly(peers_[i].ep);
    if (records[size_t(r)].hostHash == records[size_t(rank_)].hostHash) {
      processes_[i] = std::make_unique<detail::PeerProcess>(records[size_t(r)].pid);
      ++sameHost;
    }
  }
  // Spinning before sleeping only pays when every rank of this host has a core (an approximation: we only know
  // the ranks we reach through UCX).
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  spinNs_ = sameHost <= cpus ? uint64_t(std::max<int64_t>(0, configInt(cfg::kSpinUs))) * 1000 : 0;

  const size_t slotBytes = caps_.slotBytes;
  const int slots = caps_.slotsPerChannel;
  const size_t channelBytes = size_t(slots) * slotBytes;
  char* memory = worker_->memory();
  send_.resize(n * kLanes);
  recv_.resize(n * kLanes);
  for (size_t i = 0; i < n; ++i) {
    for (int lane = 0; lane < kLanes; ++lane) {
      size_t c = channel(int(i), lane);
      send_[c] = std::make_unique<UcxSendChannel>(&peers_[i], rank_, lane, memory + (2 * c) * channelBytes,
                                                  slotBytes, slots);
      recv_[c] = std::make_unique<UcxRecvChannel>(&peers_[i], lane, memory + (2 * c + 1) * channelBytes, slotBytes,
                                                  slots);
      recv_[c]->start();
    }
  }
  abortIn_.assign(n, -1);
  abortOut_.assign(n, -1);
  abortRecv_.resize(n);
  abortSend_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    abortRecv_[i].data = reinterpret_cast<char*>(&abortIn_[i]);
    abortRecv_[i].peer = &peers_[i];
    abortSend_[i].data = reinterpret_cast<char*>(&abortOut_[i]);
    abortSend_[i].peer = &peers_[i];
    detail::ucxRecv(worker_->worker(), &abortRecv_[i], sizeof(int32_t),
                    detail::makeTag(detail::kAbortLane, peerRanks_[i], 0), nullptr);
  }
  return mixcclSuccess;
}

std::vector<UcxSlot*> UcxTransport::allSlots() {
  std::vector<UcxSlot*> out;
  for (auto& c : send_) for (UcxSlot& s : c->slots()) out.push_back(&s);
  for (auto& c : recv_) for (UcxSlot& s : c->slots()) out.push_back(&s);
  for (UcxSlot& s : abortRecv_) out.push_back(&s);
  for (UcxSlot& s : abortSend_) out.push_back(&s);
  return out;
}

void UcxTransport::drain(const std::vector<UcxSlot*>& slots, double timeoutSec) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeoutSec);
  for (;;) {
    bool pending = false;
    for (const UcxSlot* s : slots) pending |= s->pending;
    if (!pending || Clock::now() > deadline) return;
    worker_->progress();
  }
}

UcxTransport::~UcxTransport() {
  if (worker_ == nullptr) return;
  // Receives never complete by themselves: cancel them; sends finish or fail when their endpoint closes.
  std::vector<UcxSlot*> slots = allSlots();
  for (auto& c : recv_) for (UcxSlot& s : c->slots()) detail::ucxCancel(worker_->worker(), &s);
  for (UcxSlot& s : abortRecv_) detail::ucxCancel(worker_->worker(), &s);
  detail::closeEndpoints(*worker_, peers_, kCloseTimeoutSec);
  drain(slots, kDrainTimeoutSec);
  worker_.reset();  // no callback runs after this, so the slots may go
}

uint32_t UcxTransport::eventToken() {
  if (worker_ == nullptr) return 0;
  worker_->progress();
  return worker_->events();
}

void UcxTransport::waitForEvent(uint32_t token, uint64_t timeoutNs) {
  if (worker_ == nullptr) return;
  worker_->progress();
  if (worker_->events() != token) return;
  if (spinNs_ > 0) {
    auto deadline = Clock::now() + std::chrono::nanoseconds(std::min(spinNs_, timeoutNs));
    do {
      if (worker_->progress() != 0 && worker_->events() != token) return;
    } while (Clock::now() < deadline);
  }
  worker_->sleep(timeoutNs);
}

Result UcxTransport::checkPeer(int peer, std::string* why) {
  int i = index(peer);
  if (i < 0 || peers_.empty()) {
    return failf(mixcclInvalidArgument, "ucx: checkPeer(%d): rank %d does not reach it", peer, rank_);
  }
  worker_->progress();  // delivers pending endpoint error callbacks
  const UcxPeer& p = peers_[size_t(i)];
  const detail::UcxRankRecord& rec = records_[size_t(peer)];
  char text[320];
  if (p.failure != UCS_OK) {
    snprintf(text, sizeof(text), "rank %d (pid %d, host %.64s): UCX reported %s", peer, rec.pid, rec.host,
             ucs_status_string(p.failure));
  } else if (processes_[size_t(i)] != nullptr && processes_[size_t(i)]->exited()) {
    snprintf(text, sizeof(text), "rank %d (pid %d, host %.64s) exited", peer, rec.pid, rec.host);
  } else {
    return mixcclSuccess;
  }
  *why = text;
  return mixcclRemoteError;
}

void UcxTransport::notifyAbort(int culprit) {
  if (worker_ == nullptr || abortSent_) return;
  abortSent_ = true;
  std::vector<UcxSlot*> sent;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i].failure != UCS_OK || peers_[i].ep == nullptr) continue;
    abortOut_[i] = culprit;
    detail::ucxSend(&abortSend_[i], sizeof(int32_t), detail::makeTag(detail::kAbortLane, rank_, 0), nullptr);
    sent.push_back(&abortSend_[i]);
  }
  // Best effort, but long enough for the notices to leave before an aborting process exits.
  drain(sent, kDrainTimeoutSec);
}

int UcxTransport::abortNotice() {
  if (worker_ == nullptr || abortCulprit_ >= 0) return abortCulprit_;
  worker_->progress();
  for (size_t i = 0; i < abortRecv_.size(); ++i) {
    if (!abortRecv_[i].pending && abortRecv_[i].status == UCS_OK && abortRecv_[i].length == sizeof(int32_t)) {
      abortCulprit_ = abortIn_[i];
      break;
    }
  }
  return abortCulprit_;
}

Result validateArgs(const Bootstrap& boot, const std::vector<int>& peers) {
  bool sorted = std::is_sorted(peers.begin(), peers.end()) &&
                std::adjacent_find(peers.begin(), peers.end()) == peers.end();
  bool inRange = peers.empty() || (peers.front() >= 0 && peers.back() < boot.nranks());
  if (!sorted || !inRange || std::binary_search(peers.begin(), peers.end(), boot.rank())) {
    return failf(mixcclInvalidArgument, "ucx: rank %d: peers must be sorted, unique, within [0, %d) and exclude "
                 "this rank", boot.rank(), boot.nranks());
  }
  if (boot.nranks() > detail::kMaxTagRank + 1) {
    return failf(mixcclInvalidArgument, "ucx: %d ranks do not fit the 24-bit rank field of the UCX tag",
                 boot.nranks());
  }
  return mixcclSuccess;
}

}  // namespace

Result createUcxTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out) {
  Result argsOk = validateArgs(boot, peers);
  std::vector<int> reached = argsOk == mixcclSuccess ? peers : std::vector<int>{};
  auto transport = std::make_unique<UcxTransport>(boot.rank(), boot.nranks(), std::move(reached));
  MIXCCL_TRY(transport->setUp(boot, argsOk));
  *out = std::move(transport);
  return mixcclSuccess;
}

}  // namespace mixccl

#include "transports/shm/shm_transport.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "transports/shm/peer_process.h"
#include "transports/shm/shm_channels.h"
#include "transports/shm/shm_doorbell.h"
#include "transports/shm/shm_layout.h"
#include "transports/shm/shm_segment.h"

namespace mixccl {
namespace {

using detail::PeerProcess;
using detail::ShmGeometry;
using detail::ShmHeader;
using detail::ShmSegment;

constexpr int kLanes = 3;  // channels per peer pair: 0 collectives, 1 point-to-point, 2 the 2nd tree
constexpr size_t kNameBytes = 64;  // one rank's segment name in the exchange, NUL-padded

// ESTIMATES, to be replaced by measurements of the perf tools across hosts. Basis: shm_transport_test on the 2-core
// dev VM measured an 8-byte ping-pong of 0.26-0.33 us per round trip with polling ranks (idle machine; a futex
// wake-up costs 15-50 us per hop instead), and a one-way stream of 128 KiB messages (copy in + copy out) of
// 3.5 GB/s under load to 20 GB/s idle (cache-resident). The figures below are deliberately conservative.
constexpr double kLatencyEstimateSec = 0.5e-6;         // one small message, one way, receiver polling
constexpr double kBandwidthEstimateBytesPerSec = 5e9;  // one pair, large messages

uint64_t hashRanks(const std::vector<int>& ranks) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (int r : ranks) {
    h ^= uint64_t(uint32_t(r));
    h *= 1099511628211ull;
  }
  return h;
}

// CPUs the ranks of this host may run on together: the union of every local rank's affinity mask (collective
// over the bootstrap). Ranks pinned one per CPU have a CPU each even though each one's own mask holds one CPU.
Result usableCpus(Bootstrap& boot, const std::vector<int>& localRanks, int* out) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof(mine), &mine) != 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < std::max(1L, online) && c < CPU_SETSIZE; ++c) CPU_SET(c, &mine);
  }
  std::vector<cpu_set_t> all(size_t(boot.nranks()));
  MIXCCL_TRY(boot.allGather(&mine, all.data(), sizeof(cpu_set_t)));
  cpu_set_t together;
  CPU_ZERO(&together);
  for (int r : localRanks) {
    if (r >= 0 && r < boot.nranks()) CPU_OR(&together, &together, &all[size_t(r)]);
  }
  *out = std::max(1, CPU_COUNT(&together));
  return mixcclSuccess;
}

std::string hostName() {
  std::string configured = configString(cfg::kHostname);
  if (!configured.empty()) return configured;
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

class ShmTransport final : public Transport {
 public:
  ShmTransport(int rank, int nranks, std::vector<int> localRanks, const ShmGeometry& geometry, uint64_t spinNs)
      : rank_(rank),
        localRanks_(std::move(localRanks)),
        localIndex_(size_t(nranks), -1),
        geometry_(geometry),
        spin_{spinNs, spinNs},
        host_(hostName()) {
    for (size_t i = 0; i < localRanks_.size(); ++i) localIndex_[size_t(localRanks_[i])] = int(i);
    me_ = localIndex_[size_t(rank)];
    segments_.resize(localRanks_.size());
    caps_.latencySec = kLatencyEstimateSec;
    caps_.bandwidthBytesPerSec = kBandwidthEstimateBytesPerSec;
    caps_.memoryTypeMask = 1;  // host memory only
    caps_.slotBytes = geometry.slotBytes;
    caps_.slotsPerChannel = geometry.slots;
    caps_.maxLanes = geometry.lanes;
  }

  // Collective part of the setup; see createShmTransport.
  Result setUp(Bootstrap& boot, Result argsOk);

  const char* name() const override { return "shm"; }
  const TransportCaps& caps() const override { return caps_; }
  bool reaches(int peer) const override { return peerIndex(peer) >= 0; }
  // The FIFOs we receive in (our segment past its header) and, in each peer's segment, the FIFOs we send into
  // (contiguous, page-aligned): only pages this rank touches.
  std::vector<HostRange> slotMemory() const override {
    std::vector<HostRange> out;
    const size_t ownFifos = geometry_.lanes * geometry_.fifoStride();
    for (int i = 0; i < int(segments_.size()); ++i) {
      if (segments_[size_t(i)] == nullptr) continue;
      char* base = static_cast<char*>(segments_[size_t(i)]->base());
      if (i == me_) {
        out.push_back(HostRange{base + geometry_.fifoOffset(0, 0), geometry_.segmentBytes() - geometry_.fifoOffset(0, 0)});
      } else {
        out.push_back(HostRange{base + geometry_.fifoOffset(me_, 0), ownFifos});
      }
    }
    return out;
  }
  SendChannel* sendChannel(int peer, int lane) override {
    int i = peerIndex(peer);
    return i < 0 || lane < 0 || lane >= geometry_.lanes ? nullptr : send_[channelIndex(i, lane)].get();
  }
  RecvChannel* recvChannel(int peer, int lane) override {
    int i = peerIndex(peer);
    return i < 0 || lane < 0 || lane >= geometry_.lanes ? nullptr : recv_[channelIndex(i, lane)].get();
  }
  uint32_t eventToken() override { return detail::doorbellToken(&ownHeader()->doorbell); }
  void waitForEvent(uint32_t token, uint64_t timeoutNs) override {
    detail::waitDoorbell(&ownHeader()->doorbell, token, timeoutNs, &spin_);
  }
  Result checkPeer(int peer, std::string* why) override;
  void notifyAbort(int culprit) override;
  int abortNotice() override { return ownHeader()->abortCulprit.load(std::memory_order_acquire) - 1; }

 private:
  // Local index of a peer this transport reaches, else -1 (also for this rank itself).
  int peerIndex(int peer) const {
    if (peer < 0 || size_t(peer) >= localIndex_.size() || peer == rank_) return -1;
    return localIndex_[size_t(peer)];
  }
  size_t channelIndex(int localPeer, int lane) const {
    return size_t(localPeer) * size_t(geometry_.lanes) + size_t(lane);
  }
  ShmHeader* header(int localIndex) const { return detail::shmHeader(segments_[size_t(localIndex)]->base()); }
  ShmHeader* ownHeader() const { return header(me_); }

  Result createOwnSegment();
  Result mapPeers(const std::vector<char>& names);
  void buildChannels();

  int rank_;
  int me_ = -1;                  // this rank's local index
  std::vector<int> localRanks_;  // local index -> global rank
  std::vector<int> localIndex_;  // global rank -> local index, -1 if not on this host
  ShmGeometry geometry_;
  detail::SpinBudget spin_;
  std::string host_;
  TransportCaps caps_;
  std::vector<std::unique_ptr<ShmSegment>> segments_;  // by local index; [me_] is ours
  std::vector<std::unique_ptr<PeerProcess>> peers_;    // by local index; [me_] is null
  std::vector<std::unique_ptr<detail::ShmSendChannel>> send_;  // by channelIndex
  std::vector<std::unique_ptr<detail::ShmRecvChannel>> recv_;
};

Result ShmTransport::createOwnSegment() {
  MIXCCL_TRY(ShmSegment::create(geometry_.segmentBytes(), &segments_[size_t(me_)]));
  long long freeBytes = detail::shmFreeBytes();
  long long worstCase = (long long)geometry_.segmentBytes() * geometry_.nLocal;
  if (me_ == 0 && freeBytes >= 0 && freeBytes < worstCase) {
    MIXCCL_LOG(kWarn,
               "shm: /dev/shm has %lld MiB free but the %d local ranks may touch up to %lld MiB; a rank that "
               "writes a page when it is full dies of SIGBUS. Enlarge /dev/shm (docker --shm-size) or lower "
               "MIXCCL_SHM_SLOTS / MIXCCL_SHM_SLOT_BYTES",
               freeBytes >> 20, geometry_.nLocal, worstCase >> 20);
  }
  ShmHeader* h = ownHeader();
  h->magic = detail::kShmMagic;
  h->version = detail::kShmLayoutVersion;
  h->pid = int32_t(getpid());
  h->rank = rank_;
  h->nLocal = geometry_.nLocal;
  h->lanes = geometry_.lanes;
  h->slots = geometry_.slots;
  h->slotBytes = geometry_.slotBytes;
  h->localRanksHash = hashRanks(localRanks_);
  return mixcclSuccess;
}

Result ShmTransport::mapPeers(const std::vector<char>& names) {
  for (int i = 0; i < geometry_.nLocal; ++i) {
    if (i == me_) continue;
    int peer = localRanks_[size_t(i)];
    const char* name = &names[size_t(peer) * kNameBytes];
    if (name[0] == '\0') continue;  // the peer failed; it reports its own error, the status exchange ours
    MIXCCL_TRY(ShmSegment::open(std::string(name, strnlen(name, kNameBytes)), &segments_[size_t(i)]));
    const ShmSegment& seg = *segments_[size_t(i)];
    const ShmHeader* h = header(i);
    if (seg.bytes() < sizeof(ShmHeader) || h->magic != detail::kShmMagic || h->version != detail::kShmLayoutVersion ||
        h->rank != peer) {
      return failf(mixcclInternalError, "shm: segment %s of rank %d has an unexpected header", seg.name().c_str(),
                   peer);
    }
    if (h->nLocal != geometry_.nLocal || h->localRanksHash != hashRanks(localRanks_)) {
      return failf(mixcclInvalidUsage, "shm: rank %d and rank %d disagree on the ranks of host %s", rank_, peer,
                   host_.c_str());
    }
    if (h->lanes != geometry_.lanes || h->slots != geometry_.slots || h->slotBytes != geometry_.slotBytes ||
        seg.bytes() < geometry_.segmentBytes()) {
      return failf(mixcclInvalidUsage,
                   "shm: rank %d uses %d slots of %llu bytes but rank %d uses %d slots of %llu bytes "
                   "(MIXCCL_SHM_SLOTS / MIXCCL_SHM_SLOT_BYTES must be equal on all ranks of a host)",
                   rank_, geometry_.slots, (unsigned long long)geometry_.slotBytes, peer, h->slots,
                   (unsigned long long)h->slotBytes);
    }
  }
  return mixcclSuccess;
}

void ShmTransport::buildChannels() {
  size_t n = size_t(geometry_.nLocal) * size_t(geometry_.lanes);
  send_.resize(n);
  recv_.resize(n);
  peers_.resize(size_t(geometry_.nLocal));
  for (int i = 0; i < geometry_.nLocal; ++i) {
    if (i == me_) continue;
    peers_[size_t(i)] = std::make_unique<PeerProcess>(header(i)->pid);
    for (int lane = 0; lane < geometry_.lanes; ++lane) {
      // We send into the peer's segment, in the FIFO indexed by OUR local index; we receive in ours, at theirs.
      void* peerBase = segments_[size_t(i)]->base();
      detail::ShmFifo* out = detail::shmFifo(peerBase, geometry_, me_, lane);
      send_[channelIndex(i, lane)] = std::make_unique<detail::ShmSendChannel>(out, reinterpret_cast<char*>(out + 1),
                                                                              geometry_, &header(i)->doorbell);
      void* ownBase = segments_[size_t(me_)]->base();
      detail::ShmFifo* in = detail::shmFifo(ownBase, geometry_, i, lane);
      recv_[channelIndex(i, lane)] = std::make_unique<detail::ShmRecvChannel>(in, reinterpret_cast<char*>(in + 1),
                                                                              geometry_, &header(i)->doorbell);
    }
  }
}

// Every rank runs every collective step even after a local failure, so that no rank waits for one that gave
// up; the status exchange then makes all ranks fail together.
Result ShmTransport::setUp(Bootstrap& boot, Result argsOk) {
  Result local = argsOk;
  if (local == mixcclSuccess) local = createOwnSegment();

  std::vector<char> mine(kNameBytes, '\0');
  if (local == mixcclSuccess) {
    const std::string& nm = segments_[size_t(me_)]->name();
    memcpy(mine.data(), nm.data(), std::min(nm.size(), kNameBytes - 1));
  }
  std::vector<char> names(size_t(boot.nranks()) * kNameBytes);
  MIXCCL_TRY(boot.allGather(mine.data(), names.data(), kNameBytes));

  if (local == mixcclSuccess) local = mapPeers(names);

  // Doubles as the barrier after which no one opens our segment any more.
  int32_t myStatus = local == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> status(size_t(boot.nranks()));
  Result gathered = boot.allGather(&myStatus, status.data(), sizeof(myStatus));
  if (segments_[size_t(me_)] != nullptr) {
    Result unlinked = segments_[size_t(me_)]->unlink();
    if (local == mixcclSuccess) local = unlinked;
  }
  MIXCCL_TRY(local);
  MIXCCL_TRY(gathered);
  for (size_t r = 0; r < status.size(); ++r) {
    if (status[r] != 0) {
      return failf(mixcclRemoteError, "shm: rank %zu failed to set up its shared-memory transport", r);
    }
  }
  buildChannels();
  MIXCCL_LOG(kInfo, "shm: rank %d reaches %d local peers (%d lanes x %d slots x %zu bytes, spin %llu ns)", rank_,
             geometry_.nLocal - 1, geometry_.lanes, geometry_.slots, geometry_.slotBytes,
             (unsigned long long)spin_.maxNs);
  return mixcclSuccess;
}

Result ShmTransport::checkPeer(int peer, std::string* why) {
  int i = peerIndex(peer);
  if (i < 0) return failf(mixcclInvalidArgument, "shm: checkPeer(%d): rank %d does not reach it", peer, rank_);
  if (!peers_[size_t(i)]->exited()) return mixcclSuccess;
  char text[256];
  snprintf(text, sizeof(text), "rank %d (pid %d, host %s) exited", peer, peers_[size_t(i)]->pid(), host_.c_str());
  *why = text;
  return mixcclRemoteError;
}

void ShmTransport::notifyAbort(int culprit) {
  for (int i = 0; i < geometry_.nLocal; ++i) {
    if (segments_[size_t(i)] == nullptr) continue;
    ShmHeader* h = header(i);
    int32_t none = 0;
    h->abortCulprit.compare_exchange_strong(none, culprit + 1, std::memory_order_seq_cst);
    detail::ringDoorbell(&h->doorbell);
  }
}

Result validateArgs(const Bootstrap& boot, const std::vector<int>& localRanks, int64_t slotBytes, int64_t slots,
                    int64_t spinUs) {
  bool sorted = std::is_sorted(localRanks.begin(), localRanks.end()) &&
                std::adjacent_find(localRanks.begin(), localRanks.end()) == localRanks.end();
  bool inRange = !localRanks.empty() && localRanks.front() >= 0 && localRanks.back() < boot.nranks();
  if (!sorted || !inRange || !std::binary_search(localRanks.begin(), localRanks.end(), boot.rank())) {
    return failf(mixcclInvalidArgument,
                 "shm: rank %d: localRanks must be sorted, unique, within [0, %d) and include this rank", boot.rank(),
                 boot.nranks());
  }
  if (slotBytes <= 0 || slotBytes > (int64_t(1) << 30) || slots <= 0 || slots > 4096 || spinUs < 0) {
    return failf(mixcclInvalidArgument,
                 "shm: MIXCCL_SHM_SLOT_BYTES=%lld (1..1G), MIXCCL_SHM_SLOTS=%lld (1..4096) or "
                 "MIXCCL_SPIN_US=%lld (>= 0) is out of range",
                 (long long)slotBytes, (long long)slots, (long long)spinUs);
  }
  return mixcclSuccess;
}

}  // namespace

Result createShmTransport(Bootstrap& boot, const std::vector<int>& localRanks, std::unique_ptr<Transport>* out) {
  int64_t slotBytes = configInt(cfg::kShmSlotBytes);
  int64_t slots = configInt(cfg::kShmSlots);
  int64_t spinUs = configInt(cfg::kSpinUs);
  Result argsOk = validateArgs(boot, localRanks, slotBytes, slots, spinUs);

  ShmGeometry geometry;
  std::vector<int> ranks = localRanks;
  if (argsOk != mixcclSuccess) ranks = {boot.rank()};  // enough to take part in the exchange
  geometry.nLocal = int(ranks.size());
  geometry.lanes = kLanes;
  geometry.slots = argsOk == mixcclSuccess ? int(slots) : 1;
  geometry.slotBytes = argsOk == mixcclSuccess ? detail::roundUp(size_t(slotBytes), detail::kCacheLineBytes) : 64;
  // Spinning only pays when every local rank has a core; oversubscribed ranks sleep at once and leave the core
  // to the peer they wait for.
  int cpus = 1;
  MIXCCL_TRY(usableCpus(boot, ranks, &cpus));
  uint64_t spinNs = geometry.nLocal <= cpus ? uint64_t(spinUs) * 1000 : 0;

  auto transport = std::make_unique<ShmTransport>(boot.rank(), boot.nranks(), std::move(ranks), geometry, spinNs);
  MIXCCL_TRY(transport->setUp(boot, argsOk));
  *out = std::move(transport);
  return mixcclSuccess;
}

}  // namespace mixccl

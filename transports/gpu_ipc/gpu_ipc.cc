#include "transports/gpu_ipc/gpu_ipc.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "core/config.h"
#include "core/datatype.h"
#include "core/device_scope.h"
#include "core/log.h"
#include "device/deferred_free.h"
#include "device/event_wait.h"
#include "transports/shm/peer_process.h"

namespace mixccl {
namespace {

constexpr size_t kFlagBytes = 4096;  // the flag page at the start of a workspace
constexpr double kTeardownWaitSec = 10;
// How long a release waits for its flag writes: a few writes on a stream of their own. Ones that have not run by
// then most likely queue behind a stream wait on a hardware queue their stream shares, which they may never get past.
constexpr double kReleaseWaitSec = 2;
constexpr auto kWatchEvery = std::chrono::milliseconds(20);

// What each rank tells the others before anything is allocated.
struct Offer {
  uint64_t token = 0;             // processToken(): equal on the ranks of one process, and only on them
  uint64_t chunkBytes = 0;        // MIXCCL_GPU_IPC_CHUNK_BYTES
  int32_t device = -1;
  int32_t queues = 8;             // GpuBackend::hardwareQueues() of the rank's GPU (8 where it has none)
  uint8_t setting = kSettingOff;  // MIXCCL_GPU_IPC (OnOffAuto)
  uint8_t gpuType = 0;            // MemoryType of a usable GPU with a current device; 0: none (or not looked for)
  uint8_t fused = kSettingOff;    // MIXCCL_GPU_IPC_FUSED (OnOffAuto)
};

constexpr uint64_t kMinChunkBytes = uint64_t(1) << 20, kMaxChunkBytes = uint64_t(1) << 30;

// After allocating and exporting. A rank of the same process (several ranks per process: init-all) uses the
// address itself: a runtime cannot import its own process's export.
struct Exported {
  IpcHandle handle;
  uint64_t address = 0;
  uint64_t share = 0;  // the lowest rank of a process with several: its ShareHandOver (an address there only)
  uint8_t ok = 0;
};

// The lowest rank of a process hands its ProcessShare to the process's other ranks through this (Exported::share);
// `left` of them have yet to take it (a rank that never does, after a failure elsewhere, leaves it allocated).
struct ShareHandOver {
  std::shared_ptr<ProcessShare> share;
  std::atomic<int> left;
};

// Whether every rank's byte is set, through the bootstrap (a collective agreement).
Result everyone(Bootstrap& bs, bool mine, bool* all) {
  std::vector<uint8_t> flags(bs.nranks());
  const uint8_t b = mine ? 1 : 0;
  MIXCCL_TRY(bs.allGather(&b, flags.data(), 1));
  *all = true;
  for (uint8_t f : flags) *all &= f != 0;
  return mixcclSuccess;
}

// A number that tells this process from every other on the host, which a pid does not always do: processes in
// separate pid namespaces that share their network and IPC namespaces (containers of one pod) can have equal pids.
uint64_t processToken() {
  static const uint64_t token = [] {
    std::random_device random;
    const uint64_t now = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    return (uint64_t(random()) << 32 ^ random()) ^ now ^ uint64_t(getpid()) << 40;
  }();
  return token;
}

// How many ranks share `rank`'s process, and the lowest of them.
int ranksOfProcess(int rank, const std::vector<Offer>& offers, int* lowest) {
  int count = 0;
  *lowest = rank;
  for (size_t r = 0; r < offers.size(); ++r) {
    if (offers[r].token != offers[size_t(rank)].token) continue;
    ++count;
    *lowest = std::min(*lowest, int(r));
  }
  return count;
}

// Whether the ranks of `rank`'s process (this one's) wait on more streams than its context has queues: each such
// rank has two streams that wait for peers (the caller's and the one for host buffers); where they outnumber the
// queues, one rank's stream waiting at the head of a queue can hold up the write a peer's stream queued behind it:
// a hang (8 threads on an H200). One queue is kept for the context's other streams (the default stream, the
// application's, a release's): 4 threads whose 8 streams had the 8 queues to themselves on paper hung on an H200 in
// one of two runs (perf/RESULTS.md, run 7). The fused kernels, which wait inside the GPU, need the queues the same way.
bool queuesShared(int rank, const std::vector<Offer>& offers) {
  int lowest = 0;
  return 2 * ranksOfProcess(rank, offers, &lowest) + 1 > offers[size_t(rank)].queues;
}

bool oneProcess(const std::vector<Offer>& offers) {
  for (const Offer& o : offers) {
    if (o.token != offers[0].token) return false;
  }
  return true;
}

// Rank r's MIXCCL_GPU_IPC resolved: "auto" is on where every rank is a thread of one process (their kernels share a
// context and run at once) and their streams fit its queues. Every rank resolves every other's setting from the
// offers, as that rank does.
bool resolvedWant(int r, const std::vector<Offer>& offers) {
  const uint8_t s = offers[size_t(r)].setting;
  return s == kSettingOn || (s == kSettingAuto && oneProcess(offers) && !queuesShared(r, offers));
}

// Says once, on the process's lowest rank, when its ranks' streams leave no spare queue, with the remedy.
void warnIfQueuesShared(int rank, const std::vector<Offer>& offers) {
  int lowest = 0;
  const int mine = ranksOfProcess(rank, offers, &lowest);
  if (rank != lowest || !queuesShared(rank, offers)) return;
  MIXCCL_LOG(kWarn, "gpu_ipc: %d ranks in this process wait on %d streams, which leaves no spare of its GPU "
             "context's %d hardware queues (CUDA_DEVICE_MAX_CONNECTIONS; HIP: GPU_MAX_HW_QUEUES): a wait can hold up "
             "the write it waits for (a hang). Set CUDA_DEVICE_MAX_CONNECTIONS=32 before the process starts CUDA",
             mine, 2 * mine, offers[size_t(rank)].queues);
}

}  // namespace

Result GpuIpc::create(Bootstrap& bs, bool allOnOneHost, const std::vector<int>& pids,
                      std::function<void(int, bool)> onFailure, std::unique_ptr<GpuIpc>* out) {
  out->reset();
  const int rank = bs.rank(), n = bs.nranks();
  Offer mine;
  const std::string setting = configString(cfg::kGpuIpc);
  mine.setting = parseOnOffAuto(setting);
  mine.token = processToken();
  mine.chunkBytes = uint64_t(configInt(cfg::kGpuIpcChunkBytes));
  const std::string fusedSetting = configString(cfg::kGpuIpcFused);
  mine.fused = parseOnOffAuto(fusedSetting);
  GpuBackend* gpu = nullptr;
  if (mine.setting == kSettingOn || mine.setting == kSettingAuto) {
    for (MemoryType t : {MemoryType::kCuda, MemoryType::kHip}) {
      GpuBackend* g = gpuBackend(t);
      int device = -1;
      if (g != nullptr && g->currentDevice(&device) == mixcclSuccess) {
        gpu = g;
        mine.gpuType = uint8_t(t);
        mine.device = device;
        mine.queues = g->hardwareQueues();
        break;
      }
    }
  }
  std::vector<Offer> offers(n);
  MIXCCL_TRY(bs.allGather(&mine, offers.data(), sizeof(Offer)));  // a bad setting too: everyone fails alike
  if (mine.setting == kSettingBad) {
    return failf(mixcclInvalidArgument, "rank %d: MIXCCL_GPU_IPC=%s: must be auto, 1 or 0", rank, setting.c_str());
  }
  if (mine.fused == kSettingBad) {
    return failf(mixcclInvalidArgument, "rank %d: MIXCCL_GPU_IPC_FUSED=%s: must be auto, 1 or 0", rank,
                 fusedSetting.c_str());
  }
  const bool want = resolvedWant(rank, offers);
  for (int r = 0; r < n; ++r) {
    if (offers[r].setting == kSettingBad || offers[r].fused == kSettingBad) {
      return failf(mixcclInvalidArgument, "rank %d: rank %d's MIXCCL_GPU_IPC%s is not auto, 1 or 0", rank, r,
                   offers[r].setting == kSettingBad ? "" : "_FUSED");
    }
    if (resolvedWant(r, offers) != want) {
      return failf(mixcclInvalidUsage, "rank %d: MIXCCL_GPU_IPC differs between ranks (rank %d resolved it to %s, "
                   "this rank to %s): set the same value everywhere", rank, r, want ? "0" : "1", want ? "1" : "0");
    }
  }
  if (!want) return mixcclSuccess;
  for (int r = 0; r < n; ++r) {
    if (offers[r].chunkBytes != mine.chunkBytes) {
      return failf(mixcclInvalidUsage, "rank %d: MIXCCL_GPU_IPC_CHUNK_BYTES differs between ranks (rank %d has %llu, "
                   "this rank %llu): set the same value everywhere", rank, r,
                   static_cast<unsigned long long>(offers[r].chunkBytes),
                   static_cast<unsigned long long>(mine.chunkBytes));
    }
    if (offers[r].fused != mine.fused) {
      return failf(mixcclInvalidUsage, "rank %d: MIXCCL_GPU_IPC_FUSED differs between ranks (rank %d has %s, this "
                   "rank %s): set the same value everywhere", rank, r, onOffAutoName(offers[r].fused),
                   onOffAutoName(mine.fused));
    }
  }
  if (mine.chunkBytes < kMinChunkBytes || mine.chunkBytes > kMaxChunkBytes || mine.chunkBytes % 4096 != 0) {
    return failf(mixcclInvalidArgument, "rank %d: MIXCCL_GPU_IPC_CHUNK_BYTES=%llu: must be a multiple of 4096 from "
                 "1M to 1G", rank, static_cast<unsigned long long>(mine.chunkBytes));
  }
  char why[160] = "";
  if (!allOnOneHost) std::snprintf(why, sizeof(why), "the ranks are on several hosts");
  if (n > kMaxRanks) std::snprintf(why, sizeof(why), "%d ranks (at most %d)", n, kMaxRanks);
  for (int r = 0; r < n && why[0] == 0; ++r) {
    if (offers[r].gpuType == 0) std::snprintf(why, sizeof(why), "rank %d has no usable GPU", r);
    if (offers[r].gpuType != offers[0].gpuType) std::snprintf(why, sizeof(why), "ranks 0 and %d have GPUs of "
                                                              "different vendors", r);
    // Ranks of one process use each other's workspace by address, which a kernel on another GPU could reach only
    // with peer access enabled: not set up here, so one process's ranks must share their GPU.
    for (int s = 0; s < r && why[0] == 0; ++s) {
      if (offers[s].token == offers[r].token && offers[s].device != offers[r].device) {
        std::snprintf(why, sizeof(why), "ranks %d and %d are one process on different GPUs", s, r);
      }
    }
  }
  if (why[0] != 0) {
    MIXCCL_LOG(kInfo, "gpu_ipc: not used on rank %d: %s", rank, why);
    return mixcclSuccess;
  }

  std::unique_ptr<GpuIpc> ipc(new GpuIpc());
  ipc->gpu_ = gpu;
  ipc->device_ = mine.device;
  ipc->rank_ = rank;
  ipc->nranks_ = n;
  ipc->chunkBytes_ = size_t(mine.chunkBytes);
  ipc->workspaces_.assign(n, nullptr);
  ipc->sameProcess_.assign(n, true);
  Exported ex;
  bool ok = gpu->loadKernels(/*onlyIfStarted=*/false) == mixcclSuccess &&
            gpu->allocDevice(kFlagBytes + 4 * ipc->chunkBytes_, &ipc->own_) == mixcclSuccess &&
            gpu->streamCreate(&ipc->hostStream_) == mixcclSuccess;
  void* bounce = nullptr;
  ok = ok && gpu->allocPinned(kBounceBytes, &bounce) == mixcclSuccess;
  ipc->bounce_ = static_cast<char*>(bounce);
  if (ok) {
    // Flags start at 0 (round 1 waits for ">= -1", which 0 is, in wrap-around order) before anyone maps them.
    static_assert(kFlagBytes <= kBounceBytes, "the flag page is zeroed from the bounce buffer");
    std::memset(ipc->bounce_, 0, kFlagBytes);
    ok = gpu->copyAsync(ipc->own_, ipc->bounce_, kFlagBytes, ipc->hostStream_) == mixcclSuccess &&
         gpu->streamSynchronize(ipc->hostStream_) == mixcclSuccess &&
         gpu->ipcExport(ipc->own_, &ex.handle) == mixcclSuccess;
  }
  ex.ok = ok ? 1 : 0;
  ex.address = reinterpret_cast<uintptr_t>(ipc->own_);
  int lowest = rank;
  const int here = ranksOfProcess(rank, offers, &lowest);
  ipc->share_ = lowest == rank ? std::make_shared<ProcessShare>() : nullptr;
  if (lowest == rank && here > 1) {
    // Handed to the process's other ranks in memory of its own, which the last of them to take it frees: this rank
    // may leave create() (and free its GpuIpc) before they have read the address.
    ex.share = reinterpret_cast<uintptr_t>(new ShareHandOver{ipc->share_, here - 1});
  }
  std::vector<Exported> all(n);
  MIXCCL_TRY(bs.allGather(&ex, all.data(), sizeof(Exported)));
  bool allExported = true;
  for (const Exported& e : all) allExported &= e.ok != 0;
  if (lowest != rank && all[lowest].share != 0) {
    auto* handOver = reinterpret_cast<ShareHandOver*>(all[lowest].share);
    ipc->share_ = handOver->share;
    if (handOver->left.fetch_sub(1) == 1) delete handOver;
  }
  bool imported = allExported;
  for (int r = 0; r < n && imported; ++r) {
    if (offers[r].token == mine.token) {
      ipc->workspaces_[r] = reinterpret_cast<char*>(all[r].address);
      continue;
    }
    void* mapped = nullptr;
    ipc->sameProcess_[r] = false;
    imported = gpu->ipcImport(all[r].handle, &mapped) == mixcclSuccess;
    ipc->workspaces_[r] = static_cast<char*>(mapped);
  }
  bool everyoneImported = false;
  MIXCCL_TRY(everyone(bs, imported, &everyoneImported));
  if (!everyoneImported) {
    MIXCCL_LOG(kInfo, "gpu_ipc: not used on rank %d: a rank could not %s its peers' workspaces", rank,
               allExported ? "map" : "allocate or export");
    return mixcclSuccess;  // ~GpuIpc releases what was made
  }
  warnIfQueuesShared(rank, offers);
  ipc->allOneProcess_ = true;
  for (int r = 0; r < n; ++r) ipc->allOneProcess_ = ipc->allOneProcess_ && ipc->sameProcess_[r];
  ipc->fused_ = mine.fused != kSettingOff && ipc->allOneProcess_ && !queuesShared(rank, offers);
  if (mine.fused == kSettingOn && !ipc->fused_ && ipc->allOneProcess_ && rank == 0) {
    MIXCCL_LOG(kWarn, "gpu_ipc: MIXCCL_GPU_IPC_FUSED=1 not used: the fused kernels wait inside the GPU, so each "
               "rank's stream needs a hardware queue of its own (see the warning above)");
  }
  MIXCCL_LOG(kInfo, "gpu_ipc: rank %d maps the workspaces of %d ranks (%s device %d, chunk %zu bytes%s)", rank, n,
             gpu->name(), mine.device, ipc->chunkBytes_, ipc->fused_ ? ", fused kernels" : "");
  if (ipc->share_ != nullptr) ipc->share_->join(rank, [onFailure](int aborter) { onFailure(aborter, true); });
  ipc->watch(pids, std::move(onFailure));
  *out = std::move(ipc);
  return mixcclSuccess;
}

void GpuIpc::watch(std::vector<int> pids, std::function<void(int, bool)> onFailure) {
  watchdog_ = std::thread([this, pids = std::move(pids), onFailure = std::move(onFailure)] {
    std::vector<std::unique_ptr<detail::PeerProcess>> peers(pids.size());
    for (size_t r = 0; r < pids.size(); ++r) {
      if (int(r) != rank_ && !sameProcess_[r]) peers[r] = std::make_unique<detail::PeerProcess>(pids[r]);
    }
    while (!stop_.load()) {
      for (size_t r = 0; r < peers.size(); ++r) {
        if (peers[r] == nullptr || !peers[r]->exited()) continue;
        peers[r].reset();
        release(int(r), true);
        onFailure(int(r), false);
      }
      std::this_thread::sleep_for(kWatchEvery);
    }
  });
}

void GpuIpc::release(int rank, bool gone) { releaseFlags(rank, rank + 1, gone ? kGathered : kDone); }

void GpuIpc::releaseFlags(int firstRank, int endRank, Flag upTo) {
  std::lock_guard<std::mutex> lock(releaseMu_);
  const DeviceScope onDevice(gpu_, device_);  // the watchdog's thread, or the aborting one, may have another current
  if (onDevice.status() != mixcclSuccess) return;
  if (releaseStream_ == nullptr && gpu_->streamCreate(&releaseStream_) != mixcclSuccess) return;
  // Stream writes rather than a copy from host memory: a pageable copy could wait behind the stuck streams.
  for (int r = firstRank; r < endRank; ++r) {
    if (setFlagsAhead(r, kArrive, upTo, releaseStream_) != mixcclSuccess) return;
  }
  void* event = nullptr;
  if (gpu_->eventCreate(&event) != mixcclSuccess) return;
  if (gpu_->eventRecord(event, releaseStream_) != mixcclSuccess) {
    gpu_->eventDestroy(event);
    return;
  }
  if (eventDoneWithin(gpu_, event, kReleaseWaitSec)) {
    gpu_->eventDestroy(event);
    return;
  }
  // The writes stay queued (and the event with them, which the stream may still reach): they take effect if the
  // stream ever gets there. The teardown waits for them (bounded) before it frees anything they write.
  MIXCCL_LOG(kWarn, "gpu_ipc: rank %d: the flag writes that release the stream waits did not run within %.0f s; "
             "most likely they queue behind a wait on a hardware queue their stream shares (more streams wait than "
             "the GPU context has queues: CUDA_DEVICE_MAX_CONNECTIONS; HIP: GPU_MAX_HW_QUEUES), and the waiting "
             "streams may stay held", rank_, kReleaseWaitSec);
}

Result GpuIpc::setFlagsAhead(int rank, Flag first, Flag last, void* stream) {
  const uint32_t ahead = seq_.load() + (1u << 30);
  for (int w = int(first) * 2; w < int(last) * 2 + 2; ++w) {
    MIXCCL_TRY(gpu_->streamWriteFlag(stream, flag(rank, kArrive, 0) + w, ahead));
  }
  return mixcclSuccess;
}

void GpuIpc::releaseAll() {
  aborted_.store(true);
  releaseFlags(0, nranks_, kDone);
  if (share_ != nullptr) share_->aborted(rank_);
}

GpuIpc::~GpuIpc() {
  if (share_ != nullptr) share_->leave(rank_);  // its onFailure may go with this rank's communicator
  if (gpu_ == nullptr) return;
  stop_.store(true);
  if (watchdog_.joinable()) watchdog_.join();
  const DeviceScope onDevice(gpu_, device_);  // the destroying thread may have another device current
  freeGpuMemory(gpu_, GpuFreeKind::kPinned, bounce_);  // host-only calls wait for their copies: no stream uses it now
  bool idle = true;
  const uint32_t last = seq_.load();
  if ((last > 0 || releaseStream_ != nullptr) && hostStream_ != nullptr) {
    // In stream order, then one bounded wait for it all:
    // 0. The flag writes of a release (abort, a peer's exit), which write into the workspaces freed below.
    // 1. This rank's rounds are done once its last one is gathered. From then on it reads no peer's workspace, and says
    //    so: its `gathered` goes far ahead, so that no peer's teardown waits for a round this rank will never run (it
    //    stopped behind them at an abort). After an abort, its rounds that were still queued ran through the released
    //    waits and wrote their own arrivals and dones, undoing the release for peers further ahead: those go far ahead
    //    once more too.
    // 2. Peers of other processes may still read this workspace in their last rounds: until they have gathered them.
    //    (Ranks of this process may already be gone with their workspaces; their streams are the application's to
    //    synchronise before it destroys the communicators.)
    void* released = nullptr;
    void* event = nullptr;
    idle = false;
    bool queued = releaseStream_ == nullptr ||
                  (gpu_->eventCreate(&released) == mixcclSuccess &&
                   gpu_->eventRecord(released, releaseStream_) == mixcclSuccess &&
                   gpu_->streamWaitEvent(hostStream_, released) == mixcclSuccess);
    if (queued && last > 0) {
      queued = gpu_->streamWaitFlag(hostStream_, flag(rank_, kGathered, last & 1), last) == mixcclSuccess &&
               setFlagsAhead(rank_, aborted_.load() ? kArrive : kGathered, kGathered, hostStream_) == mixcclSuccess &&
               waitAll(hostStream_, kGathered, last & 1, last, true) == mixcclSuccess &&
               (last < 2 || waitAll(hostStream_, kGathered, (last - 1) & 1, last - 1, true) == mixcclSuccess);
    }
    queued = queued && gpu_->eventCreate(&event) == mixcclSuccess;
    if (queued && gpu_->eventRecord(event, hostStream_) == mixcclSuccess) {
      idle = eventDoneWithin(gpu_, event, kTeardownWaitSec);
    }
    if (idle) {
      if (event != nullptr) gpu_->eventDestroy(event);
      if (released != nullptr) gpu_->eventDestroy(released);
    }
  }
  if (!idle) {
    MIXCCL_LOG(kWarn, "gpu_ipc: rank %d: what may still use its workspace (its own rounds, a release's flag "
               "writes, the peers' last rounds) did not finish within %.0f s; it stays allocated", rank_,
               kTeardownWaitSec);
    // And so do the workspaces of this process's other ranks, which its streams may still use.
    if (share_ != nullptr) static_cast<void>(new std::shared_ptr<ProcessShare>(share_));
    return;
  }
  for (int r = 0; r < nranks_; ++r) {
    if (workspaces_[r] == nullptr || sameProcess_[r]) continue;
    freeGpuMemory(gpu_, GpuFreeKind::kImported, workspaces_[r], device_);
  }
  if (hostStream_ != nullptr) gpu_->streamDestroy(hostStream_);
  if (releaseStream_ != nullptr) gpu_->streamDestroy(releaseStream_);
  if (share_ != nullptr) {
    share_->retire(gpu_, own_, device_);  // freed once this process's other ranks, which may use it, are gone too
  } else {
    freeGpuMemory(gpu_, GpuFreeKind::kDevice, own_, device_);
  }
  freeGpuMemory(gpu_, GpuFreeKind::kDevice, stage_, device_);
  for (void* stage : retiredStages_) freeGpuMemory(gpu_, GpuFreeKind::kDevice, stage, device_);
}

uint32_t* GpuIpc::flag(int rank, Flag kind, uint32_t parity) const {
  return reinterpret_cast<uint32_t*>(workspaces_[rank]) + int(kind) * 2 + parity;
}

uint32_t* GpuIpc::addressWords(int rank, uint32_t parity) const {
  return reinterpret_cast<uint32_t*>(workspaces_[rank]) + 16 + 4 * parity;  // after the 6 flag words
}

char* GpuIpc::inSlot(int rank, uint32_t parity) const {
  return workspaces_[rank] + kFlagBytes + parity * chunkBytes_;
}

char* GpuIpc::resultSlot(int rank, uint32_t parity) const {
  return workspaces_[rank] + kFlagBytes + (2 + parity) * chunkBytes_;
}

Result GpuIpc::waitAll(void* stream, Flag kind, uint32_t parity, uint32_t value, bool otherProcessesOnly) {
  for (int r = 0; r < nranks_; ++r) {
    if (r == rank_ || (otherProcessesOnly && sameProcess_[r])) continue;
    MIXCCL_TRY(gpu_->streamWaitFlag(stream, flag(r, kind, parity), value));
  }
  return mixcclSuccess;
}

}  // namespace mixccl

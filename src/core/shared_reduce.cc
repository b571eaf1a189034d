#include "core/shared_reduce.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/cpu_relax.h"
#include "core/datatype.h"
#include "core/log.h"
#include "device/cpu/cpu_reduce.h"
#include "device/gpu_backend.h"
#include "transports/shm/shm_segment.h"

namespace mixccl {

struct SharedReduce::Header {
  uint64_t magic;
  uint32_t nranks;
  uint32_t reserved;
  uint64_t slotBytes;
  std::atomic<int32_t> failedBy;  // 0, or 1 + the first rank that gave up
};

struct alignas(64) SharedReduce::Counter {
  std::atomic<uint64_t> value;
};

namespace {

constexpr uint64_t kMagic = 0x6d69786363727364ull;
constexpr size_t kNameBytes = 64;
constexpr size_t kCountersAt = 64;
constexpr size_t kPage = 4096;
constexpr int64_t kMinSlotBytes = 64 << 10;
constexpr int64_t kMaxSlotBytes = int64_t(1) << 30;
// A shard is reduced in blocks this large, so the partial result stays in cache while every input is added to it.
constexpr uint64_t kBlockBytes = 64 << 10;
// Waiting: poll this many times back to back, then yield between polls, then nap; check the caller's conditions
// (abort, a peer gone) at most this often.
constexpr int kSpinPolls = 256;
constexpr int kYieldPolls = 4096;
constexpr auto kNap = std::chrono::microseconds(20);
constexpr auto kCheckEvery = std::chrono::milliseconds(10);

// What each rank says at init.
struct Offer {
  int32_t setting;
  int32_t eligible;
  int64_t slotBytes;
  int32_t hasGpu;
  int32_t pad;
};

// What rank 0 tells the others once it has (or has not) made the segment.
struct Notice {
  int32_t state;  // kMade, kFailed, kDeclined (auto: too little /dev/shm)
  char name[kNameBytes];
  char why[256];  // kFailed: rank 0's error
};
enum : int32_t { kMade = 0, kFailed = 1, kDeclined = 2 };

// After the header: landed[n] and reduced[n] (a line each), then each rank's copied-out words (a line per rank).
size_t copiedAt(int nranks) { return kCountersAt + 2 * size_t(nranks) * 64; }
size_t dataOffset(int nranks) { return (copiedAt(nranks) + size_t(nranks) * 64 + kPage - 1) / kPage * kPage; }

// The reason, from the gathered offers, that the shared segment is not used ("" when it is). `automatic`: for
// MIXCCL_SHARED_REDUCE=auto, which also leaves communicators with a rank without a GPU in use to the host engine
// (registering the segment would start a GPU context in a process that has not used its GPU).
std::string whyNot(const std::vector<Offer>& offers, bool automatic) {
  if (offers.size() < 2) return "one rank";
  for (size_t r = 0; r < offers.size(); ++r) {
    if (offers[r].eligible == 0) return "the ranks are on several hosts, or use gpu_ipc";
    if (automatic && offers[r].hasGpu == 0) return "rank " + std::to_string(r) + " has no GPU in use";
  }
  return "";
}

// Whether `gpu` (may be null) has its current device in use in this process: its context exists.
bool gpuInUse(GpuBackend* gpu) {
  int device = -1;
  return gpu != nullptr && gpu->currentDevice(&device) == mixcclSuccess && !gpu->busIdInUse(device).empty();
}

}  // namespace

SharedReduce::~SharedReduce() {
  if (registered_ != nullptr) registered_->hostUnregister(segment_->base());
}

SharedReduce::Header* SharedReduce::header() const { return static_cast<Header*>(segment_->base()); }

SharedReduce::Counter* SharedReduce::counters() const {
  return reinterpret_cast<Counter*>(static_cast<char*>(segment_->base()) + kCountersAt);
}

Result SharedReduce::create(Bootstrap& bs, bool eligible, GpuBackend* gpu, std::unique_ptr<SharedReduce>* out) {
  out->reset();
  const int rank = bs.rank(), n = bs.nranks();
  const std::string setting = configString(cfg::kSharedReduce);
  Offer mine{parseOnOffAuto(setting), eligible ? 1 : 0, configInt(cfg::kSharedReduceSlotBytes),
             gpuInUse(gpu) ? 1 : 0, 0};
  std::vector<Offer> offers(static_cast<size_t>(n));
  MIXCCL_TRY(bs.allGather(&mine, offers.data(), sizeof(Offer)));  // a bad setting too: everyone fails alike
  if (mine.setting == kSettingBad) {
    return failf(mixcclInvalidArgument, "rank %d: MIXCCL_SHARED_REDUCE=%s: must be 0, 1 or auto", rank,
                 setting.c_str());
  }
  for (int r = 0; r < n; ++r) {
    if (offers[size_t(r)].setting == kSettingBad) {
      return failf(mixcclInvalidArgument, "rank %d: rank %d's MIXCCL_SHARED_REDUCE is not 0, 1 or auto", rank, r);
    }
    if (offers[size_t(r)].setting != mine.setting) {
      return failf(mixcclInvalidUsage,
                   "rank %d: MIXCCL_SHARED_REDUCE differs between ranks (rank %d has %s, this "
                   "rank %s): set the same value everywhere",
                   rank, r, onOffAutoName(offers[size_t(r)].setting), onOffAutoName(mine.setting));
    }
  }
  if (mine.setting == kSettingOff) return mixcclSuccess;
  for (int r = 0; r < n; ++r) {
    if (offers[size_t(r)].slotBytes != mine.slotBytes) {
      return failf(mixcclInvalidUsage,
                   "rank %d: MIXCCL_SHARED_REDUCE_SLOT_BYTES differs between ranks (rank %d has "
                   "%lld, this rank %lld): set the same value everywhere",
                   rank, r, (long long)offers[size_t(r)].slotBytes, (long long)mine.slotBytes);
    }
  }
  if (mine.slotBytes < kMinSlotBytes || mine.slotBytes > kMaxSlotBytes || mine.slotBytes % int64_t(kPage) != 0) {
    return failf(mixcclInvalidArgument,
                 "rank %d: MIXCCL_SHARED_REDUCE_SLOT_BYTES=%lld: must be a multiple of 4096 "
                 "from 64K to 1G",
                 rank, (long long)mine.slotBytes);
  }
  const bool automatic = mine.setting == kSettingAuto;
  const std::string why = whyNot(offers, automatic);
  if (!why.empty()) {
    // Asked for and not given: said where it shows (where auto decides, only at INFO).
    if (automatic) {
      MIXCCL_LOG(kInfo, "rank %d: MIXCCL_SHARED_REDUCE=auto is not used: %s", rank, why.c_str());
    } else {
      MIXCCL_LOG(kWarn, "rank %d: MIXCCL_SHARED_REDUCE=1 is not used: %s (the host engine's algorithms run instead)",
                 rank, why.c_str());
    }
    return mixcclSuccess;
  }

  std::unique_ptr<SharedReduce> sr(new SharedReduce());
  sr->rank_ = rank;
  sr->nranks_ = n;
  sr->slotBytes_ = uint64_t(mine.slotBytes);
  const size_t bytes = dataOffset(n) + size_t(kSlots) * size_t(n + 1) * sr->slotBytes_;
  // Rank 0 makes the segment; every rank takes part in every exchange even after a failure of its own, so that
  // all fail together instead of waiting for one that gave up.
  Result local = mixcclSuccess;
  Notice notice{};
  if (rank == 0) {
    const long long freeBytes = detail::shmFreeBytes();
    if (freeBytes >= 0 && (unsigned long long)freeBytes < bytes) {
      if (automatic) {
        notice.state = kDeclined;
        MIXCCL_LOG(kInfo, "rank 0: MIXCCL_SHARED_REDUCE=auto is not used: it needs %zu MiB of /dev/shm for %d "
                   "ranks and %lld MiB are free (the host engine's algorithms run instead)", bytes >> 20, n,
                   freeBytes >> 20);
      } else {
        local = failf(mixcclSystemError,
                      "rank 0: MIXCCL_SHARED_REDUCE needs %zu MiB of /dev/shm for %d ranks but %lld "
                      "MiB are free: enlarge /dev/shm (docker --shm-size) or lower MIXCCL_SHARED_REDUCE_SLOT_BYTES",
                      bytes >> 20, n, freeBytes >> 20);
      }
    }
    if (local == mixcclSuccess && notice.state != kDeclined) {
      local = detail::ShmSegment::create(bytes, &sr->segment_, /*reserve=*/true);  // used whole
    }
    if (local == mixcclSuccess && notice.state != kDeclined) {
      Header* h = sr->header();
      h->magic = kMagic;
      h->nranks = uint32_t(n);
      h->slotBytes = sr->slotBytes_;
      h->failedBy.store(0);
      memcpy(notice.name, sr->segment_->name().data(), std::min(sr->segment_->name().size(), kNameBytes - 1));
    }
    if (local != mixcclSuccess) {
      notice.state = kFailed;
      std::snprintf(notice.why, sizeof(notice.why), "%s", lastErrorMessage());
    }
  }
  std::vector<Notice> notices(static_cast<size_t>(n));
  MIXCCL_TRY(bs.allGather(&notice, notices.data(), sizeof(Notice)));
  const Notice& first = notices[0];
  if (first.state == kDeclined) {
    if (rank != 0) {
      MIXCCL_LOG(kInfo, "rank %d: MIXCCL_SHARED_REDUCE=auto is not used: too little /dev/shm (rank 0 says how much)",
                 rank);
    }
    return mixcclSuccess;
  }
  if (rank != 0) {
    if (first.state == kFailed && automatic) {
      local = mixcclRemoteError;  // rank 0 said why; everyone falls back below
    } else if (first.state == kFailed) {
      local = failf(mixcclRemoteError, "rank %d: rank 0 could not make the shared segment: %.*s", rank,
                    int(strnlen(first.why, sizeof(first.why))), first.why);
    } else {
      local = detail::ShmSegment::open(std::string(first.name, strnlen(first.name, kNameBytes)), &sr->segment_);
    }
    if (local == mixcclSuccess) {
      const Header* h = sr->header();
      if (sr->segment_->bytes() < bytes || h->magic != kMagic || h->nranks != uint32_t(n) ||
          h->slotBytes != sr->slotBytes_) {
        local = failf(mixcclInternalError,
                      "rank %d: the shared segment %s does not have the expected "
                      "layout",
                      rank, sr->segment_->name().c_str());
      }
    }
  }
  // Registered with this rank's GPU, if it has one, all of it (the copied-out words too), before the ranks say
  // whether they are set.
  if (local == mixcclSuccess && gpu != nullptr) {
    local = gpu->hostRegister(sr->segment_->base(), sr->segment_->bytes());
    if (local == mixcclSuccess) sr->registered_ = gpu;
  }
  // Doubles as the barrier after which no one opens the segment any more.
  int32_t myStatus = local == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> status(static_cast<size_t>(n));
  MIXCCL_TRY(bs.allGather(&myStatus, status.data(), sizeof(myStatus)));
  // Past the last exchange: a name left behind is logged (and removed once this process is gone), not fatal alone.
  if (rank == 0 && sr->segment_ != nullptr) (void)sr->segment_->unlink();
  if (automatic) {
    // A default must not stop a job: whatever went wrong (said where it happened), every rank falls back alike.
    for (int r = 0; r < n; ++r) {
      if (status[size_t(r)] != 0) {
        MIXCCL_LOG(kInfo, "rank %d: MIXCCL_SHARED_REDUCE=auto is not used: rank %d could not set up the shared "
                   "segment (the host engine's algorithms run instead)", rank, r);
        clearLastError();  // init goes on: the failure was logged where it happened
        return mixcclSuccess;
      }
    }
  }
  MIXCCL_TRY(local);
  for (int r = 0; r < n; ++r) {
    if (status[size_t(r)] != 0) {
      return failf(mixcclRemoteError, "rank %d: rank %d failed to set up the shared segment", rank, r);
    }
  }
  sr->data_ = static_cast<char*>(sr->segment_->base()) + dataOffset(n);
  MIXCCL_LOG(kInfo, "rank %d: collectives meet in one shared segment (%d ranks, %d slots of %llu bytes per rank)", rank,
             n, kSlots, (unsigned long long)sr->slotBytes_);
  *out = std::move(sr);
  return mixcclSuccess;
}

bool SharedReduce::fits(const CollArgs& args) const { return SharedShape::fits(args, nranks_, slotBytes_); }

SharedShape SharedReduce::shape(const CollArgs& args) const { return SharedShape(args, nranks_, rank_, slotBytes_); }

uint64_t SharedReduce::reserve(const CollArgs& args, uint64_t* pieces) {
  *pieces = shape(args).pieces();
  return next_.fetch_add(*pieces);
}

char* SharedReduce::input(uint64_t k) const { return region(k, rank_); }

const char* SharedReduce::output(uint64_t k) const { return region(k, nranks_); }

void SharedReduce::fail() {
  int32_t none = 0;
  header()->failedBy.compare_exchange_strong(none, rank_ + 1);
}

Result SharedReduce::failedError(uint64_t k) const {
  const int32_t by = header()->failedBy.load(std::memory_order_acquire) - 1;
  return failf(mixcclRemoteError,
               "rank %d: shared-segment piece %llu: rank %d failed in an earlier or the same "
               "piece (its error says why), so this rank gives up too",
               rank_, (unsigned long long)k, by);
}

bool SharedReduce::slotUser(uint64_t k, uint32_t* ticket, uint64_t* place) const {
  *ticket = slotTicket_[k % kSlots];
  *place = slotPlace_[k % kSlots];
  return *place != 0;
}

void SharedReduce::noteSlotUse(uint64_t k, uint32_t ticket, uint64_t place) {
  slotTicket_[k % kSlots] = ticket;
  slotPlace_[k % kSlots] = place;
}

uint32_t* SharedReduce::copiedOutWord(uint64_t k) const {
  char* line = static_cast<char*>(segment_->base()) + copiedAt(nranks_) + size_t(rank_) * 64;
  return reinterpret_cast<uint32_t*>(line) + k % kSlots;
}

void SharedReduce::copiedOut(uint64_t k) { __atomic_store_n(copiedOutWord(k), uint32_t(k + 1), __ATOMIC_RELEASE); }

bool SharedReduce::slotDrained(uint64_t k) const {
  if (k < kSlots) return true;
  // Piece k - 2 copied out: the word is at or past uint32(k - 1), in wrap-around order.
  return int32_t(__atomic_load_n(copiedOutWord(k), __ATOMIC_ACQUIRE) - uint32_t(k - 1)) >= 0;
}

void SharedReduce::land(uint64_t k) { counters()[rank_].value.store(k + 1, std::memory_order_release); }

void SharedReduce::markReduced(uint64_t k) {
  counters()[nranks_ + rank_].value.store(k + 1, std::memory_order_release);
}

int SharedReduce::firstBehind(bool reduced, uint64_t k) const {
  const Counter* c = counters() + (reduced ? nranks_ : 0);
  for (int r = 0; r < nranks_; ++r) {
    if (c[r].value.load(std::memory_order_acquire) < k + 1) return r;
  }
  return -1;
}

bool SharedReduce::failed() const { return header()->failedBy.load(std::memory_order_acquire) != 0; }

namespace {

// This rank's shard of `count` elements of `esz` bytes: whole cache lines, so that no two ranks write one line.
void shardOf(uint64_t count, size_t esz, int rank, int nranks, uint64_t* lo, uint64_t* hi) {
  const uint64_t unit = std::max<uint64_t>(1, 64 / esz);
  const uint64_t units = (count + unit - 1) / unit;
  *lo = std::min(count, units * uint64_t(rank) / uint64_t(nranks) * unit);
  *hi = std::min(count, units * uint64_t(rank + 1) / uint64_t(nranks) * unit);
}

}  // namespace

char* SharedReduce::region(uint64_t k, int i) const {
  return data_ + (size_t(k % kSlots) * size_t(nranks_ + 1) + size_t(i)) * slotBytes_;
}

void SharedReduce::reduceRange(uint64_t k, size_t at, uint64_t count, mixcclDataType_t dtype, mixcclRedOp_t op) {
  const size_t esz = dataTypeSize(dtype);
  char* out = region(k, nranks_) + at;
  const uint64_t block = kBlockBytes / esz;
  ReduceSpec spec{dtype, op == mixcclAvg ? mixcclSum : op, 0};
  for (uint64_t b = 0; b < count; b += block) {
    const uint64_t len = std::min(block, count - b);
    const size_t off = size_t(b) * esz;
    for (int q = 1; q < nranks_; ++q) {
      spec.divisor = op == mixcclAvg && q == nranks_ - 1 ? uint32_t(nranks_) : 0;
      cpuReduce(out + off, (q == 1 ? region(k, 0) + at : out) + off, region(k, q) + at + off, size_t(len), spec);
    }
  }
}

void SharedReduce::work(uint64_t k, const SharedShape& shape, uint64_t i) {
  const CollArgs& a = shape.args();
  const size_t esz = dataTypeSize(a.dtype);
  const uint64_t len = shape.length(i);
  uint64_t lo = 0, hi = 0;
  switch (a.type) {
    case CollType::kReduceScatter:
      reduceRange(k, size_t(rank_) * shape.stride(), len, a.dtype, a.op);
      return;
    case CollType::kAllGather:
      memcpy(region(k, nranks_) + size_t(rank_) * shape.stride(), region(k, rank_), size_t(len) * esz);
      return;
    case CollType::kBroadcast:
      shardOf(len, esz, rank_, nranks_, &lo, &hi);
      memcpy(region(k, nranks_) + size_t(lo) * esz, region(k, a.root) + size_t(lo) * esz, size_t(hi - lo) * esz);
      return;
    default:  // all-reduce, reduce
      shardOf(len, esz, rank_, nranks_, &lo, &hi);
      reduceRange(k, size_t(lo) * esz, hi - lo, a.dtype, a.op);
      return;
  }
}

Result SharedReduce::waitFor(uint64_t k, const char* what, const std::function<int()>& behind, double timeoutSec,
                             const Check& check) {
  const auto start = std::chrono::steady_clock::now();
  auto lastCheck = start;
  for (int polls = 1;; ++polls) {
    const int r = behind();
    if (r < 0) return mixcclSuccess;
    if (failed()) return failedError(k);
    if (polls < kSpinPolls) {
      cpuRelax();
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - lastCheck >= kCheckEvery) {
      lastCheck = now;
      const Result res = check(r);
      if (res != mixcclSuccess) {
        fail();
        return res;
      }
      if (now - start > std::chrono::duration<double>(timeoutSec)) {
        fail();
        return failf(mixcclRemoteError,
                     "rank %d: shared-segment piece %llu: waited %.1f s for rank %d's %s "
                     "(MIXCCL_TIMEOUT)",
                     rank_, (unsigned long long)k, timeoutSec, r, what);
      }
    }
    if (polls < kYieldPolls) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kNap);
    }
  }
}

Result SharedReduce::meet(uint64_t k, const SharedShape& shape, uint64_t i, double timeoutSec, const Check& check) {
  if (failed()) return failedError(k);
  MIXCCL_TRY(waitFor(
      k, "copy of the piece two before out of its slot (its stream)", [&] { return slotDrained(k) ? -1 : rank_; },
      timeoutSec, check));
  land(k);
  MIXCCL_TRY(waitFor(
      k, "input", [&] { return firstBehind(false, k); }, timeoutSec, check));
  work(k, shape, i);
  markReduced(k);
  return waitFor(
      k, "part of the result", [&] { return firstBehind(true, k); }, timeoutSec, check);
}

}  // namespace mixccl

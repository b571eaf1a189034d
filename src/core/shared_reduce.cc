#include "core/shared_reduce.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
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

enum : int32_t { kOff = 0, kOn = 1, kBad = 2 };

// What each rank says at init.
struct Offer {
  int32_t setting;
  int32_t hasGpu;
  int32_t eligible;
  int32_t reserved;
  int64_t slotBytes;
};

size_t dataOffset(int nranks) { return (kCountersAt + 2 * size_t(nranks) * 64 + kPage - 1) / kPage * kPage; }

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The reason, from the gathered offers, that the shared all-reduce is not used ("" when it is).
std::string whyNot(const std::vector<Offer>& offers) {
  if (offers.size() < 2) return "one rank";
  for (size_t r = 0; r < offers.size(); ++r) {
    if (offers[r].eligible == 0) return "the ranks are on several hosts, or use gpu_ipc";
    if (offers[r].hasGpu == 0) return "rank " + std::to_string(r) + " has no GPU";
  }
  return "";
}

}  // namespace

SharedReduce::~SharedReduce() {
  if (registered_ != nullptr) registered_->hostUnregister(data_);
}

SharedReduce::Header* SharedReduce::header() const { return static_cast<Header*>(segment_->base()); }

SharedReduce::Counter* SharedReduce::counters() const {
  return reinterpret_cast<Counter*>(static_cast<char*>(segment_->base()) + kCountersAt);
}

Result SharedReduce::create(Bootstrap& bs, bool eligible, bool hasGpu, std::unique_ptr<SharedReduce>* out) {
  out->reset();
  const int rank = bs.rank(), n = bs.nranks();
  const std::string setting = configString(cfg::kSharedReduce);
  Offer mine{setting == "1"   ? kOn
             : setting == "0" ? kOff
                              : kBad,
             hasGpu ? 1 : 0, eligible ? 1 : 0, 0, configInt(cfg::kSharedReduceSlotBytes)};
  std::vector<Offer> offers(static_cast<size_t>(n));
  MIXCCL_TRY(bs.allGather(&mine, offers.data(), sizeof(Offer)));  // a bad setting too: everyone fails alike
  if (mine.setting == kBad) {
    return failf(mixcclInvalidArgument, "rank %d: MIXCCL_SHARED_REDUCE=%s: must be 0 or 1", rank, setting.c_str());
  }
  for (int r = 0; r < n; ++r) {
    if (offers[size_t(r)].setting == kBad) {
      return failf(mixcclInvalidArgument, "rank %d: rank %d's MIXCCL_SHARED_REDUCE is not 0 or 1", rank, r);
    }
    if (offers[size_t(r)].setting != mine.setting) {
      return failf(mixcclInvalidUsage,
                   "rank %d: MIXCCL_SHARED_REDUCE differs between ranks (rank %d has %d, this "
                   "rank %d): set the same value everywhere",
                   rank, r, offers[size_t(r)].setting, mine.setting);
    }
  }
  if (mine.setting == kOff) return mixcclSuccess;
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
  const std::string why = whyNot(offers);
  if (!why.empty()) {
    MIXCCL_LOG(kInfo, "rank %d: MIXCCL_SHARED_REDUCE=1 is not used: %s", rank, why.c_str());
    return mixcclSuccess;
  }

  std::unique_ptr<SharedReduce> sr(new SharedReduce());
  sr->rank_ = rank;
  sr->nranks_ = n;
  sr->slotBytes_ = uint64_t(mine.slotBytes);
  sr->dataBytes_ = size_t(kSlots) * size_t(n + 1) * sr->slotBytes_;
  const size_t bytes = dataOffset(n) + sr->dataBytes_;
  // Rank 0 makes the segment; every rank takes part in every exchange even after a failure of its own, so that
  // all fail together instead of waiting for one that gave up.
  Result local = mixcclSuccess;
  std::vector<char> name(kNameBytes, '\0');
  if (rank == 0) {
    const long long freeBytes = detail::shmFreeBytes();
    if (freeBytes >= 0 && (unsigned long long)freeBytes < bytes) {
      local = failf(mixcclSystemError,
                    "rank 0: MIXCCL_SHARED_REDUCE needs %zu MiB of /dev/shm for %d ranks but %lld "
                    "MiB are free: enlarge /dev/shm (docker --shm-size) or lower MIXCCL_SHARED_REDUCE_SLOT_BYTES",
                    bytes >> 20, n, freeBytes >> 20);
    }
    if (local == mixcclSuccess) local = detail::ShmSegment::create(bytes, &sr->segment_);
    if (local == mixcclSuccess) {
      Header* h = sr->header();
      h->magic = kMagic;
      h->nranks = uint32_t(n);
      h->slotBytes = sr->slotBytes_;
      h->failedBy.store(0);
      memcpy(name.data(), sr->segment_->name().data(), std::min(sr->segment_->name().size(), kNameBytes - 1));
    }
  }
  std::vector<char> names(size_t(n) * kNameBytes);
  MIXCCL_TRY(bs.allGather(name.data(), names.data(), kNameBytes));
  if (rank != 0) {
    const char* first = names.data();
    if (first[0] == '\0') {
      local = mixcclRemoteError;  // rank 0 said why
    } else {
      local = detail::ShmSegment::open(std::string(first, strnlen(first, kNameBytes)), &sr->segment_);
    }
    if (local == mixcclSuccess) {
      const Header* h = sr->header();
      if (sr->segment_->bytes() < bytes || h->magic != kMagic || h->nranks != uint32_t(n) ||
          h->slotBytes != sr->slotBytes_) {
        local = failf(mixcclInternalError,
                      "rank %d: the shared all-reduce segment %s does not have the expected "
                      "layout",
                      rank, sr->segment_->name().c_str());
      }
    }
  }
  // Doubles as the barrier after which no one opens the segment any more.
  int32_t myStatus = local == mixcclSuccess ? 0 : 1;
  std::vector<int32_t> status(static_cast<size_t>(n));
  MIXCCL_TRY(bs.allGather(&myStatus, status.data(), sizeof(myStatus)));
  if (rank == 0 && sr->segment_ != nullptr) {
    const Result unlinked = sr->segment_->unlink();
    if (local == mixcclSuccess) local = unlinked;
  }
  MIXCCL_TRY(local);
  for (int r = 0; r < n; ++r) {
    if (status[size_t(r)] != 0) {
      return failf(mixcclRemoteError, "rank %d: rank %d failed to set up the shared all-reduce segment", rank, r);
    }
  }
  sr->data_ = static_cast<char*>(sr->segment_->base()) + dataOffset(n);
  MIXCCL_LOG(kInfo, "rank %d: all-reduces meet in one shared segment (%d ranks, %d slots of %llu bytes per rank)", rank,
             n, kSlots, (unsigned long long)sr->slotBytes_);
  *out = std::move(sr);
  return mixcclSuccess;
}

bool SharedReduce::fits(const CollArgs& args) {
  return args.type == CollType::kAllReduce && isValidRedOp(args.op) && args.count > 0;
}

uint64_t SharedReduce::pieceElements(mixcclDataType_t dtype) const { return slotBytes_ / dataTypeSize(dtype); }

uint64_t SharedReduce::reserve(const CollArgs& args, uint64_t* pieces) {
  const uint64_t per = pieceElements(args.dtype);
  *pieces = (args.count + per - 1) / per;
  return next_.fetch_add(*pieces);
}

char* SharedReduce::input(uint64_t k) const {
  return data_ + (size_t(k % kSlots) * size_t(nranks_ + 1) + size_t(rank_)) * slotBytes_;
}

const char* SharedReduce::output(uint64_t k) const {
  return data_ + (size_t(k % kSlots) * size_t(nranks_ + 1) + size_t(nranks_)) * slotBytes_;
}

Result SharedReduce::registerWith(GpuBackend* gpu) {
  if (registered_ != nullptr) return mixcclSuccess;
  MIXCCL_TRY(gpu->hostRegister(data_, dataBytes_));
  registered_ = gpu;
  return mixcclSuccess;
}

void SharedReduce::fail() {
  int32_t none = 0;
  header()->failedBy.compare_exchange_strong(none, rank_ + 1);
}

Result SharedReduce::failedError(uint64_t k) const {
  const int32_t by = header()->failedBy.load(std::memory_order_acquire) - 1;
  return failf(mixcclRemoteError,
               "rank %d: shared all-reduce piece %llu: rank %d failed in an earlier or the same "
               "piece (its error says why), so this rank gives up too",
               rank_, (unsigned long long)k, by);
}

Result SharedReduce::waitAll(int which, uint64_t target, uint64_t k, double timeoutSec, const Check& check) {
  Counter* c = counters() + size_t(which) * size_t(nranks_);
  const auto start = std::chrono::steady_clock::now();
  auto lastCheck = start;
  int polls = 0;
  for (int r = 0; r < nranks_; ++r) {
    while (c[r].value.load(std::memory_order_acquire) < target) {
      if (header()->failedBy.load(std::memory_order_acquire) != 0) return failedError(k);
      if (++polls < kSpinPolls) {
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
                       "rank %d: shared all-reduce piece %llu: rank %d's %s not come after %.1f s "
                       "(MIXCCL_TIMEOUT)",
                       rank_, (unsigned long long)k, r, which == 0 ? "input has" : "shard of the result has",
                       timeoutSec);
        }
      }
      if (polls < kYieldPolls) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(kNap);
      }
    }
  }
  return mixcclSuccess;
}

Result SharedReduce::meet(uint64_t k, uint64_t count, mixcclDataType_t dtype, mixcclRedOp_t op, double timeoutSec,
                          const Check& check) {
  if (header()->failedBy.load(std::memory_order_acquire) != 0) return failedError(k);
  Counter* landed = counters();
  Counter* reduced = landed + nranks_;
  landed[rank_].value.store(k + 1, std::memory_order_release);
  MIXCCL_TRY(waitAll(0, k + 1, k, timeoutSec, check));

  // This rank's shard: whole cache lines of elements, so that no two ranks write one line.
  const size_t esz = dataTypeSize(dtype);
  const uint64_t unit = std::max<uint64_t>(1, 64 / esz);
  const uint64_t units = (count + unit - 1) / unit;
  const uint64_t lo = std::min(count, units * uint64_t(rank_) / uint64_t(nranks_) * unit);
  const uint64_t hi = std::min(count, units * uint64_t(rank_ + 1) / uint64_t(nranks_) * unit);
  const size_t slotBase = size_t(k % kSlots) * size_t(nranks_ + 1);
  auto region = [&](int i) { return data_ + (slotBase + size_t(i)) * slotBytes_; };
  char* out = region(nranks_);
  const uint64_t block = kBlockBytes / esz;
  ReduceSpec spec{dtype, op == mixcclAvg ? mixcclSum : op, 0};
  for (uint64_t b = lo; b < hi; b += block) {
    const uint64_t len = std::min(block, hi - b);
    const size_t at = size_t(b) * esz;
    for (int q = 1; q < nranks_; ++q) {
      spec.divisor = op == mixcclAvg && q == nranks_ - 1 ? uint32_t(nranks_) : 0;
      cpuReduce(out + at, (q == 1 ? region(0) : out) + at, region(q) + at, size_t(len), spec);
    }
  }
  reduced[rank_].value.store(k + 1, std::memory_order_release);
  return waitAll(1, k + 1, k, timeoutSec, check);
}

}  // namespace mixccl

// Fd and the fork table (see socket.h for the fork rule).
//
// The table is a fixed array of atomic 64-bit tickets, (generation << 32) | fd, or kFree. It is lock-free
// because the atfork child handler runs in a child where any mutex may have been held by a thread that does not
// exist there. A full table only means that the fd is not closed in forked children.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "bootstrap/socket.h"

namespace mixccl::detail {
namespace {

constexpr int kSlots = 8192;
constexpr uint64_t kFree = ~uint64_t{0};

std::atomic<uint64_t> gSlots[kSlots];
std::atomic<uint32_t> gGeneration{1};
std::atomic<int> gHint{0};

void closeAllInChild() {
  for (auto& slot : gSlots) {
    uint64_t ticket = slot.exchange(kFree, std::memory_order_relaxed);
    if (ticket != kFree) close(static_cast<int>(ticket & 0xffffffffu));
  }
}

void initTable() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (auto& slot : gSlots) slot.store(kFree, std::memory_order_relaxed);
    pthread_atfork(nullptr, nullptr, closeAllInChild);
  });
}

// Enters `fd`; returns the slot, or -1 when the table is full.
int enter(int fd, uint64_t* ticket) {
  initTable();
  *ticket = (uint64_t{gGeneration.fetch_add(1, std::memory_order_relaxed)} << 32) | static_cast<uint32_t>(fd);
  int start = gHint.load(std::memory_order_relaxed);
  for (int i = 0; i < kSlots; ++i) {
    int s = (start + i) % kSlots;
    uint64_t expected = kFree;
    if (gSlots[s].compare_exchange_strong(expected, *ticket, std::memory_order_acq_rel)) {
      gHint.store((s + 1) % kSlots, std::memory_order_relaxed);
      return s;
    }
  }
  return -1;
}

}  // namespace

Fd::Fd(int fd) : fd_(fd) {
  if (fd_ >= 0) slot_ = enter(fd_, &ticket_);
}

Fd::Fd(Fd&& other) noexcept : fd_(other.fd_), slot_(other.slot_), ticket_(other.ticket_) {
  other.fd_ = -1;
  other.slot_ = -1;
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.fd_;
    slot_ = other.slot_;
    ticket_ = other.ticket_;
    other.fd_ = -1;
    other.slot_ = -1;
  }
  return *this;
}

void Fd::reset() {
  if (fd_ < 0) return;
  bool own = true;
  if (slot_ >= 0) {
    // Leave the table first, so a fork in between at worst leaks a copy into the child. If our ticket is gone,
    // this is a stale object in a forked child: the handler has closed the fd already.
    uint64_t expected = ticket_;
    own = gSlots[slot_].compare_exchange_strong(expected, kFree, std::memory_order_acq_rel);
  }
  if (own) close(fd_);
  fd_ = -1;
  slot_ = -1;
}

}  // namespace mixccl::detail

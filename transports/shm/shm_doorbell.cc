#include "transports/shm/shm_doorbell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>

#include "core/cpu_relax.h"

namespace mixccl::detail {
namespace {

uint32_t* futexWord(ShmDoorbell* bell) { return reinterpret_cast<uint32_t*>(&bell->count); }

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

void ringDoorbell(ShmDoorbell* bell) {
  bell->count.fetch_add(1, std::memory_order_seq_cst);
  if (bell->sleeping.load(std::memory_order_seq_cst) != 0) {
    syscall(SYS_futex, futexWord(bell), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

void waitDoorbell(ShmDoorbell* bell, uint32_t token, uint64_t timeoutNs, SpinBudget* spin) {
  if (doorbellToken(bell) != token || timeoutNs == 0) return;
  const uint64_t start = nowNs();
  if (spin->currentNs > 0) {
    const uint64_t spinEnd = start + std::min(spin->currentNs, timeoutNs);
    for (int i = 0;; ++i) {
      if (doorbellToken(bell) != token) {
        spin->currentNs = std::min(spin->maxNs, spin->currentNs * 2);
        return;
      }
      cpuRelax();
      if ((i & 63) == 63 && nowNs() >= spinEnd) break;
    }
    spin->currentNs = std::max(spin->maxNs / 2, spin->currentNs / 2);
  }
  const uint64_t elapsed = nowNs() - start;
  if (elapsed >= timeoutNs) return;
  const uint64_t left = timeoutNs - elapsed;
  timespec rel{time_t(left / 1000000000ull), long(left % 1000000000ull)};
  bell->sleeping.store(1, std::memory_order_seq_cst);
  if (bell->count.load(std::memory_order_seq_cst) == token) {
    // EAGAIN (count changed), EINTR and ETIMEDOUT are all plain returns: the caller re-checks its state.
    syscall(SYS_futex, futexWord(bell), FUTEX_WAIT, token, &rel, nullptr, 0);
  }
  bell->sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace mixccl::detail

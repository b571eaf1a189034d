#include "support/device_memory_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace mixccl::testing::device_guard {
namespace {

struct sigaction gPrevious = {};  // the SIGSEGV action before ours, restored on a fault that is not ours

// Writes `text` to stderr (async-signal-safe).
void say(const char* text) { (void)!write(STDERR_FILENO, text, std::strlen(text)); }

// A fault on a guarded page: says what it means, then lets the previous action (by default, death) take the retried
// access. Async-signal-safe. A SIGSEGV sent by a process (no access to retry) is raised again under that action.
void onFault(int sig, siginfo_t* info, void*) {
  if (info->si_code == SEGV_PKUERR) {
    char address[2 + 16 + 1] = "0x";
    const auto at = reinterpret_cast<uintptr_t>(info->si_addr);
    for (int i = 0; i < 16; ++i) address[2 + i] = "0123456789abcdef"[(at >> (60 - 4 * i)) & 0xf];
    address[18] = '\0';
    say("emulated gpu: a host thread touched device memory at ");
    say(address);
    say(" (on a real GPU this access faults too; tests/support/device_memory_guard.h)\n");
  }
  sigaction(SIGSEGV, &gPrevious, nullptr);
  if (info->si_code <= 0) raise(sig);
}

struct Key {
  int key = -1;
  std::string why;
};

const Key& key() {
  static const Key k = [] {
    Key made;
    const char* off = std::getenv("MIXCCL_TEST_EMULATED_GUARD");
    if (off != nullptr && std::strcmp(off, "0") == 0) {
      made.why = "MIXCCL_TEST_EMULATED_GUARD=0";
      return made;
    }
    made.key = pkey_alloc(0, 0);
    if (made.key < 0) {
      made.why = std::string("no memory protection keys here (pkey_alloc: ") + std::strerror(errno) + ")";
      return made;
    }
    struct sigaction sa = {};
    sa.sa_sigaction = onFault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &gPrevious);
    return made;
  }();
  return k;
}

}  // namespace

bool active() { return key().key >= 0; }

std::string reason() { return key().why; }

bool protect(void* p, size_t bytes) {
  if (!active()) return true;
  return pkey_mprotect(p, bytes, PROT_READ | PROT_WRITE, key().key) == 0;
}

void denyThisThread() {
  if (active()) pkey_set(key().key, PKEY_DISABLE_ACCESS);
}

void allowThisThread() {
  if (active()) pkey_set(key().key, 0);
}

}  // namespace mixccl::testing::device_guard

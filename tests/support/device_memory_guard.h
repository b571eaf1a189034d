#pragma once
// Keeps host threads out of the emulated GPU's device memory (support/emulated_gpu.h), as a real GPU does: a host
// load or store to cudaMalloc'd memory faults there, while on the emulation device memory is host memory that any
// thread could read. So a library bug that touches device memory from the host (a proxy reading a flag, a CPU
// reduction of a device buffer) would pass every emulated test and crash on the first real GPU.
//
// With x86 memory protection keys (pkeys(7)), device mappings carry a key of their own. A host thread denies that key
// (denyThisThread); the threads that stand for the device (the emulated streams) allow it (allowThisThread). Linux
// hands a thread's key rights on to the threads it creates, so the library's threads deny it too once the thread
// that made them has. A host access then faults (SIGSEGV, SEGV_PKUERR), and the handler installed with the key says
// so on stderr before the process dies.
//
// Contract: thread-safe. Inactive (every call does nothing) where the CPU or the kernel has no protection keys, or
// with MIXCCL_TEST_EMULATED_GUARD=0 in the environment; active() says which, reason() why not.
#include <cstddef>
#include <string>

namespace mixccl::testing::device_guard {

// Whether device mappings are guarded in this process (the key is made on the first call).
bool active();
// Why not, when !active().
std::string reason();
// Tags the mapping [p, p + bytes) (page-aligned) as device memory. False (errno kept) if the kernel refused.
bool protect(void* p, size_t bytes);
// From now on this thread faults on device memory (a host thread) or may use it (a thread of the device).
void denyThisThread();
void allowThisThread();

}  // namespace mixccl::testing::device_guard

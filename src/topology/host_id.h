#pragma once
// Which ranks share a host, in the sense that matters for shared memory: same kernel (boot id), same hostname,
// same network and IPC namespaces. MIXCCL_HOSTNAME overrides the whole identity (ranks that set the same value
// are treated as one host).
#include <cstdint>
#include <string>

namespace mixccl {

struct HostIdentity {
  std::string id;        // the full identity string
  std::string hostname;  // for messages
  uint64_t hash = 0;     // 64-bit FNV-1a of id
};

// Computed once per process (the environment is read at the first call).
const HostIdentity& localHostIdentity();

uint64_t fnv1a64(const void* data, size_t bytes, uint64_t seed = 14695981039346656037ull);

}  // namespace mixccl

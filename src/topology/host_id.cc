#include "topology/host_id.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/config.h"

namespace mixccl {
namespace {

std::string readFirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string namespaceInode(const char* path) {
  struct stat st {};
  if (stat(path, &st) != 0) return "?";
  return std::to_string(static_cast<unsigned long long>(st.st_ino));
}

HostIdentity compute() {
  HostIdentity h;
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  h.hostname = name;
  std::string forced = configString(cfg::kHostname);
  if (!forced.empty()) {
    h.id = "forced:" + forced;
    h.hostname = forced;
  } else {
    h.id = h.hostname + "|" + readFirstLine("/proc/sys/kernel/random/boot_id") + "|net:" +
           namespaceInode("/proc/self/ns/net") + "|ipc:" + namespaceInode("/proc/self/ns/ipc");
  }
  h.hash = fnv1a64(h.id.data(), h.id.size());
  return h;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t bytes, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < bytes; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

const HostIdentity& localHostIdentity() {
  static const HostIdentity identity = compute();
  return identity;
}

}  // namespace mixccl

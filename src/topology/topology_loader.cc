#include "topology/topology_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/config.h"
#include "mixccl_build_config.h"
#include "topology/gpu_runtime_ids.h"
#if MIXCCL_HAVE_HWLOC
#include "topology/hwloc/hwloc_reader.h"
#endif

namespace mixccl {
namespace {

Result readTopology(const char* xmlPath, LocalTopology* out) {
#if MIXCCL_HAVE_HWLOC
  return detail::readHwlocTopology(xmlPath, out);
#else
  return failf(mixcclInvalidUsage, "cannot load the %s: this mixccl was built without hwloc (MIXCCL_WITH_HWLOC; "
               "on Debian: apt-get install libhwloc-dev and rebuild)",
               xmlPath ? ("topology file " + std::string(xmlPath)).c_str() : "local topology");
#endif
}

// Fails naming `path` when it is not a regular file this process can read (hwloc's own message would not).
Result checkReadableFile(const std::string& path) {
  if (path.empty()) return failf(mixcclInvalidArgument, "topology file: empty path");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return failf(mixcclInvalidArgument, "topology file %s cannot be read: %s", path.c_str(), errnoString(err).c_str());
  }
  struct stat st {};
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!regular) return failf(mixcclInvalidArgument, "topology file %s is not a regular file", path.c_str());
  return mixcclSuccess;
}

}  // namespace

bool topologyDiscoveryBuiltIn() { return MIXCCL_HAVE_HWLOC != 0; }

Result loadLocalTopology(LocalTopology* out) {
  std::string file = configString(cfg::kTopoFile);
  return file.empty() ? loadLiveTopology(out) : loadTopologyXml(file, out);
}

Result loadLiveTopology(LocalTopology* out) {
  LocalTopology t;
  MIXCCL_TRY(readTopology(nullptr, &t));
  for (GpuVendor vendor : {GpuVendor::kNvidia, GpuVendor::kAmd}) {
    bool present = false;
    for (const Gpu& g : t.gpus) present = present || g.vendor == vendor;
    if (!present) continue;  // do not load a runtime for a vendor this machine does not have
    std::vector<std::string> busIds;
    if (runtimeGpuBusIds(vendor, &busIds)) t.assignRuntimeIndices(vendor, busIds);
  }
  *out = std::move(t);
  return mixcclSuccess;
}

Result loadTopologyXml(const std::string& path, LocalTopology* out) {
  MIXCCL_TRY(checkReadableFile(path));
  LocalTopology t;
  MIXCCL_TRY(readTopology(path.c_str(), &t));
  *out = std::move(t);
  return mixcclSuccess;
}

}  // namespace mixccl

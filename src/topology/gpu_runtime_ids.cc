#include "topology/gpu_runtime_ids.h"

#include <dlfcn.h>

#include "core/log.h"

namespace mixccl {
namespace {

// The two runtimes have the same shape: int getDeviceCount(int*), int getPciBusId(char*, int len, int device),
// both returning 0 on success.
using GetCountFn = int (*)(int*);
using GetBusIdFn = int (*)(char*, int, int);

struct RuntimeLibrary {
  std::vector<const char*> sonames;  // tried in order
  const char* countSymbol;
  const char* busIdSymbol;
};

RuntimeLibrary libraryOf(GpuVendor vendor) {
  if (vendor == GpuVendor::kNvidia) {
    return {{"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"},
            "cudaGetDeviceCount",
            "cudaDeviceGetPCIBusId"};
  }
  return {{"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"},
          "hipGetDeviceCount",
          "hipDeviceGetPCIBusId"};
}

}  // namespace

bool runtimeGpuBusIds(GpuVendor vendor, std::vector<std::string>* busIds) {
  RuntimeLibrary lib = libraryOf(vendor);
  void* handle = nullptr;
  const char* loaded = nullptr;
  for (const char* soname : lib.sonames) {
    handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      loaded = soname;
      break;
    }
  }
  if (!handle) {
    MIXCCL_LOG(kInfo, "topology: no %s runtime library (%s...), %s device indices unknown", gpuVendorName(vendor),
               lib.sonames[0], gpuVendorName(vendor));
    return false;
  }
  auto getCount = reinterpret_cast<GetCountFn>(dlsym(handle, lib.countSymbol));
  auto getBusId = reinterpret_cast<GetBusIdFn>(dlsym(handle, lib.busIdSymbol));
  int count = 0;
  int rc = getCount && getBusId ? getCount(&count) : -1;
  if (rc != 0) {
    MIXCCL_LOG(kInfo, "topology: %s from %s failed (%d), %s device indices unknown", lib.countSymbol, loaded, rc,
               gpuVendorName(vendor));
    return false;
  }
  std::vector<std::string> ids;
  for (int d = 0; d < count; ++d) {
    char text[64] = {};
    rc = getBusId(text, sizeof(text), d);
    ids.push_back(rc == 0 ? normalizePciBusId(text) : std::string());
  }
  *busIds = std::move(ids);
  return true;
}

}  // namespace mixccl

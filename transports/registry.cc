#include "transports/registry.h"

#include <sstream>


namespace mixccl {

#if MIXCCL_BUILD_UCX_TRANSPORT
Result createUcxTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out);
#endif
#if MIXCCL_BUILD_OFI_TRANSPORT
Result createOfiTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out);
#endif

const std::vector<TransportInfo>& compiledTransports() {
  static const std::vector<TransportInfo> all = {
      {"shm", false, nullptr},
#if MIXCCL_BUILD_UCX_TRANSPORT
      {"ucx", true, createUcxTransport},
#endif
#if MIXCCL_BUILD_OFI_TRANSPORT
      {"ofi", true, createOfiTransport},
#endif
  };
  return all;
}

Result allowedTransports(const std::string& spec, uint32_t* mask) {
  const auto& all = compiledTransports();
  if (spec.empty() || spec == "auto") {
    *mask = (1u << all.size()) - 1;
    return mixcclSuccess;
  }
  uint32_t m = 0;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    size_t i = 0;
    while (i < all.size() && item != all[i].name) ++i;
    if (i == all.size()) {
      std::string known;
      for (const auto& t : all) known += std::string(known.empty() ? "" : ", ") + t.name;
      return failf(mixcclInvalidUsage, "MIXCCL_TRANSPORTS: '%s' is not a transport of this build (built with: %s)",
                   item.c_str(), known.c_str());
    }
    m |= 1u << i;
  }
  if (m == 0) return fail(mixcclInvalidUsage, "MIXCCL_TRANSPORTS names no transport");
  *mask = m;
  return mixcclSuccess;
}

int transportForPair(bool sameHost, uint32_t allowedMask) {
  const auto& all = compiledTransports();
  for (size_t i = 0; i < all.size(); ++i) {
    if (!(allowedMask & (1u << i))) continue;
    if (!all[i].network && !sameHost) continue;
    return static_cast<int>(i);
  }
  return -1;
}

}  // namespace mixccl

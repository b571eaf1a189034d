#include "support/transport_probe.h"

#include <map>

#include "transports/registry.h"

namespace mixccl::testing {

bool transportBuilt(const std::string& name) {
  for (const TransportInfo& t : compiledTransports()) {
    if (name == t.name) return true;
  }
  return false;
}

std::string transportUnavailable(const std::string& key, const std::string& transport, const std::string& notBuilt,
                                 const std::function<void()>& setEnv,
                                 const std::function<std::string(const RankRunResult&)>& whyInitFailed) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::string reason;
  if (!transportBuilt(transport)) {
    reason = notBuilt;
  } else {
    setEnv();
    auto result = runRanks(2, [](int rank, int n, const mixcclUniqueId& id) -> int {
      mixcclComm_t comm = initRankComm(rank, n, id);
      if (comm == nullptr) return 1;
      mixcclCommDestroy(comm);
      return 0;
    }, 60);
    reason = whyInitFailed(result);
  }
  cache[key] = reason;
  return reason;
}

std::string ucxUnavailable(const std::string& key, const std::string& tls, const std::function<void()>& setEnv) {
  return transportUnavailable(
      key, "ucx", "this build has no UCX transport (libucx-dev not found at configure time)", setEnv,
      [tls](const RankRunResult& result) -> std::string {
        if (!result.ok && (result.report.find("ucp_init failed") != std::string::npos ||
                           result.report.find("ucp_worker_create failed") != std::string::npos)) {
          return "UCX cannot create a context/worker with UCX_TLS=" + tls + ": " + result.report;
        }
        return "";
      });
}

}  // namespace mixccl::testing

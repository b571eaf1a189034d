#include "transports/ofi/ofi_provider.h"

#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/log.h"

namespace mixccl::detail {
namespace {

// API version we program against: mr_mode bits, FI_CONTEXT2 and fi_dupinfo semantics are all older than this.
constexpr uint32_t kOfiApiVersion = FI_VERSION(1, 10);

// Providers that drive real network hardware, in order of preference for the automatic choice.
constexpr const char* kHardwareProviders[] = {"cxi", "efa", "opx", "psm3", "verbs", "psm2", "usnic"};

// The first component of a layered name: "verbs;ofi_rxm" -> "verbs".
std::string coreName(const char* provName) {
  std::string s = provName != nullptr ? provName : "";
  return s.substr(0, s.find(';'));
}

// The hints of every query: what the transport needs and which modes and registration rules it honours.
fi_info* makeHints(const std::string& provider) {
  fi_info* hints = fi_allocinfo();
  if (hints == nullptr) return nullptr;
  hints->caps = FI_TAGGED;
  hints->mode = FI_CONTEXT | FI_CONTEXT2;  // every operation's context starts with a struct fi_context2
  hints->ep_attr->type = FI_EP_RDM;
  hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_PROV_KEY | FI_MR_ALLOCATED | FI_MR_ENDPOINT;
  hints->domain_attr->threading = FI_THREAD_DOMAIN;     // one thread drives the transport
  hints->domain_attr->resource_mgmt = FI_RM_ENABLED;    // the provider queues rather than drops on overrun
  if (!provider.empty()) hints->fabric_attr->prov_name = strdup(provider.c_str());
  return hints;
}

// fi_getinfo with our hints; *list is the provider's list (caller frees). Returns the libfabric code.
int query(const std::string& provider, fi_info** list) {
  // Before libfabric reads its parameters (its first fi_getinfo); a value the user set stays.
  setenv("FI_OFI_RXM_BUFFER_SIZE", std::to_string(kRxmEagerBytes + kRxmHeaderBytes).c_str(), 0);
  fi_info* hints = makeHints(provider);
  if (hints == nullptr) return -FI_ENOMEM;
  int ret = fi_getinfo(kOfiApiVersion, nullptr, nullptr, 0, hints, list);
  fi_freeinfo(hints);
  return ret;
}

const fi_info* pickAutomatic(const fi_info* list) {
  for (const char* hw : kHardwareProviders) {
    for (const fi_info* i = list; i != nullptr; i = i->next) {
      if (coreName(i->fabric_attr->prov_name) == hw) return i;
    }
  }
  for (const fi_info* i = list; i != nullptr; i = i->next) {
    if (coreName(i->fabric_attr->prov_name) == "tcp") return i;
  }
  return nullptr;
}

struct ProviderRecord {
  int32_t needsFabric;                  // 1 if the rank reaches peers through this transport
  int32_t ok;                           // 1 if it found `name`
  char name[kOfiProviderNameBytes];     // NUL-terminated provider name, e.g. "tcp;ofi_rxm"
};

}  // namespace

size_t rxmEagerBytes() {
  const char* set = getenv("FI_OFI_RXM_BUFFER_SIZE");
  const long long bytes = set != nullptr ? atoll(set) : 0;
  return bytes > static_cast<long long>(kRxmHeaderBytes + 4096) ? size_t(bytes) - kRxmHeaderBytes : 4096;
}

std::string ofiErrorText(long ret) { return fi_strerror(static_cast<int>(ret < 0 ? -ret : ret)); }

Result ofiFindInfo(const std::string& provider, fi_info** out) {
  fi_info* list = nullptr;
  int ret = query(provider, &list);
  if (ret == -FI_ENODATA && provider == "tcp") ret = query("tcp;ofi_rxm", &list);
  if (ret != 0) {
    return failf(mixcclSystemError,
                 "ofi: fi_getinfo found no RDM tagged endpoint for provider '%s': %s (see fi_info -t FI_EP_RDM; "
                 "MIXCCL_OFI_PROVIDER)",
                 provider.empty() ? "(automatic)" : provider.c_str(), ofiErrorText(ret).c_str());
  }
  const fi_info* chosen = provider.empty() ? pickAutomatic(list) : list;
  fi_info* copy = chosen != nullptr ? fi_dupinfo(chosen) : nullptr;
  fi_freeinfo(list);
  if (chosen == nullptr) {
    return fail(mixcclSystemError,
                "ofi: no hardware provider and no tcp provider offers an RDM tagged endpoint here; set "
                "MIXCCL_OFI_PROVIDER");
  }
  if (copy == nullptr) return fail(mixcclSystemError, "ofi: fi_dupinfo failed (out of memory)");
  if (strlen(copy->fabric_attr->prov_name) >= kOfiProviderNameBytes) {
    std::string name = copy->fabric_attr->prov_name;
    fi_freeinfo(copy);
    return failf(mixcclSystemError, "ofi: provider name '%s' is too long", name.c_str());
  }
  *out = copy;
  return mixcclSuccess;
}

Result ofiAgreeOnInfo(Bootstrap& boot, bool needsFabric, Result localOk, fi_info** out) {
  fi_info* info = nullptr;
  Result local = localOk;
  if (local == mixcclSuccess && needsFabric) local = ofiFindInfo(configString(cfg::kOfiProvider), &info);

  ProviderRecord mine{};
  mine.needsFabric = needsFabric ? 1 : 0;
  mine.ok = local == mixcclSuccess ? 1 : 0;
  if (info != nullptr) strncpy(mine.name, info->fabric_attr->prov_name, sizeof(mine.name) - 1);
  std::vector<ProviderRecord> all(size_t(boot.nranks()));
  Result gathered = boot.allGather(&mine, all.data(), sizeof(mine));
  if (local != mixcclSuccess || gathered != mixcclSuccess || !needsFabric) {
    fi_freeinfo(info);
    return local != mixcclSuccess ? local : gathered;
  }

  int winner = 0;
  while (winner < boot.nranks() && !all[size_t(winner)].needsFabric) ++winner;
  const ProviderRecord& w = all[size_t(winner)];  // exists: this rank needs the fabric
  if (!w.ok) {
    fi_freeinfo(info);
    return failf(mixcclRemoteError, "ofi: rank %d found no usable libfabric provider (see its log)", winner);
  }
  std::string wanted(w.name, strnlen(w.name, sizeof(w.name)));
  if (wanted != info->fabric_attr->prov_name) {
    MIXCCL_LOG(kInfo, "ofi: rank %d chose provider %s but rank %d chose %s; using %s", boot.rank(),
               info->fabric_attr->prov_name, winner, wanted.c_str(), wanted.c_str());
    fi_freeinfo(info);
    info = nullptr;
    fi_info* list = nullptr;
    int ret = query(wanted, &list);
    if (ret != 0) {
      return failf(mixcclInvalidUsage,
                   "ofi: rank %d uses libfabric provider '%s', which rank %d cannot open: %s (all ranks must use the "
                   "same provider; set MIXCCL_OFI_PROVIDER)",
                   winner, wanted.c_str(), boot.rank(), ofiErrorText(ret).c_str());
    }
    info = fi_dupinfo(list);
    fi_freeinfo(list);
    if (info == nullptr) return fail(mixcclSystemError, "ofi: fi_dupinfo failed (out of memory)");
  }
  *out = info;
  return mixcclSuccess;
}

}  // namespace mixccl::detail

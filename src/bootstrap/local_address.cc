#include "bootstrap/local_address.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include "core/config.h"

namespace mixccl::detail {
namespace {

struct Candidate {
  std::string name;
  SockAddr addr;
  bool loopback;
};

// Interfaces that are UP with an IPv4 address, or a global (not link-local) IPv6 address, in getifaddrs order.
std::vector<Candidate> listInterfaces() {
  std::vector<Candidate> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* p = list; p != nullptr; p = p->ifa_next) {
    if (p->ifa_addr == nullptr || (p->ifa_flags & IFF_UP) == 0) continue;
    int family = p->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (family == AF_INET6) {
      const auto* a6 = reinterpret_cast<const sockaddr_in6*>(p->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;  // would need a scope id on the wire
    }
    Candidate c;
    c.name = p->ifa_name;
    c.addr.len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    memcpy(&c.addr.storage, p->ifa_addr, c.addr.len);
    c.addr.setPort(0);
    c.loopback = (p->ifa_flags & IFF_LOOPBACK) != 0;
    out.push_back(c);
  }
  freeifaddrs(list);
  return out;
}

// The first candidate accepted by `pass`, IPv4 before IPv6.
const Candidate* pick(const std::vector<Candidate>& all, auto pass) {
  for (int family : {AF_INET, AF_INET6}) {
    for (const Candidate& c : all) {
      if (c.addr.family() == family && pass(c)) return &c;
    }
  }
  return nullptr;
}

}  // namespace

bool interfaceMatches(const std::string& spec, const std::string& name) {
  std::string list = spec;
  bool exclude = false, exact = false;
  if (!list.empty() && list[0] == '^') {
    exclude = true;
    list.erase(0, 1);
  }
  if (!list.empty() && list[0] == '=') {
    exact = true;
    list.erase(0, 1);
  }
  bool listed = false;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty() && (exact ? name == item : name.compare(0, item.size(), item) == 0)) listed = true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return exclude ? !listed : listed;
}

Result chooseLocalAddress(SockAddr* out) {
  std::vector<Candidate> all = listInterfaces();
  std::string spec = configString(cfg::kSocketIfname);
  const Candidate* c = nullptr;
  if (spec.empty()) {
    // Container bridges and virtual links come last: they rarely reach other hosts.
    auto usable = [](const Candidate& x) { return !x.loopback && x.addr.family() == AF_INET; };
    c = pick(all, [&](const Candidate& x) { return usable(x) && interfaceMatches("^docker,veth,virbr", x.name); });
    if (c == nullptr) c = pick(all, usable);
    if (c == nullptr) {
      *out = SockAddr::loopback(AF_INET, 0);
      return mixcclSuccess;
    }
  } else {
    // Loopback only when named (in exclude mode, only when nothing else matches).
    bool exclude = spec[0] == '^';
    c = pick(all, [&](const Candidate& x) { return (!exclude || !x.loopback) && interfaceMatches(spec, x.name); });
    if (c == nullptr && exclude) c = pick(all, [&](const Candidate& x) { return interfaceMatches(spec, x.name); });
    if (c == nullptr) {
      std::string names;
      for (const Candidate& x : all) names += (names.empty() ? "" : ", ") + x.name + " (" + x.addr.host() + ")";
      return failf(mixcclInvalidUsage, "%s=%s matches no interface that is up with an address; there are: %s",
                   cfg::kSocketIfname.name, spec.c_str(), names.empty() ? "none" : names.c_str());
    }
  }
  *out = c->addr;
  return mixcclSuccess;
}

}  // namespace mixccl::detail

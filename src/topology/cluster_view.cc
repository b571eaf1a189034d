#include "topology/cluster_view.h"

#include <map>
#include <sstream>

#include "topology/host_id.h"

namespace mixccl {

const char* linkClassName(LinkClass c) {
  switch (c) {
    case LinkClass::kSameDevice: return "same-device";
    case LinkClass::kSameHost: return "same-host";
    case LinkClass::kSameSite: return "same-site";
    case LinkClass::kCrossSite: return "cross-site";
  }
  return "?";
}

void ClusterView::defaultCosts(LinkCost (&costs)[kNumLinkClasses]) {
  costs[0] = {2e-6, 1e12, 0.5e-6};     // two ranks on one GPU: device memory
  costs[1] = {1e-6, 8e9, 0.2e-6};      // host shared memory
  costs[2] = {15e-6, 12.5e9, 1e-6};    // a data-centre network (100 Gbit/s)
  costs[3] = {5e-3, 1.25e9, 2e-6};     // between sites (10 Gbit/s, a few ms)
}

ClusterView ClusterView::singleHost(int nranks) {
  std::vector<RankPlacement> p(nranks, RankPlacement{"host0", "", -1});
  LinkCost costs[kNumLinkClasses];
  defaultCosts(costs);
  return build(p, costs);
}

ClusterView ClusterView::hostPerRank(int nranks) {
  std::vector<RankPlacement> p(nranks);
  for (int r = 0; r < nranks; ++r) p[r].host = "host" + std::to_string(r);
  LinkCost costs[kNumLinkClasses];
  defaultCosts(costs);
  return build(p, costs);
}

ClusterView ClusterView::build(const std::vector<RankPlacement>& placements,
                               const LinkCost (&costs)[kNumLinkClasses]) {
  ClusterView v;
  const int n = static_cast<int>(placements.size());
  v.hostOf_.resize(n);
  v.localIndex_.resize(n);
  v.device_.resize(n);
  std::map<std::string, int> hostIds;
  std::map<std::string, int> siteIds;
  for (int r = 0; r < n; ++r) {
    const RankPlacement& p = placements[r];
    auto [it, isNew] = hostIds.emplace(p.host, static_cast<int>(v.hostRanks_.size()));
    if (isNew) {
      auto [sit, siteNew] = siteIds.emplace(p.site, static_cast<int>(v.siteHosts_.size()));
      if (siteNew) {
        v.siteHosts_.emplace_back();
        v.siteNames_.push_back(p.site.empty() ? "default" : p.site);
      }
      v.hostRanks_.emplace_back();
      v.hostNames_.push_back(p.host);
      v.siteOfHost_.push_back(sit->second);
      v.siteHosts_[sit->second].push_back(it->second);
    }
    // A host's site is fixed by its lowest rank; a rank that disagrees is caught by the fingerprint check of the
    // placements at init (every rank gathers the same strings, so this choice is the same everywhere).
    v.hostOf_[r] = it->second;
    v.localIndex_[r] = static_cast<int>(v.hostRanks_[it->second].size());
    v.hostRanks_[it->second].push_back(r);
    v.device_[r] = p.device;
  }
  for (int c = 0; c < kNumLinkClasses; ++c) v.costs_[c] = costs[c];
  return v;
}

bool ClusterView::uniformHosts() const {
  for (const auto& ranks : hostRanks_) {
    if (ranks.size() != hostRanks_[0].size()) return false;
  }
  return true;
}

bool ClusterView::uniformSites() const {
  for (const auto& hosts : siteHosts_) {
    if (hosts.size() != siteHosts_[0].size()) return false;
  }
  return true;
}

LinkClass ClusterView::linkClass(int a, int b) const {
  const int ha = hostOf_[a], hb = hostOf_[b];
  if (ha == hb) {
    return device_[a] >= 0 && device_[a] == device_[b] ? LinkClass::kSameDevice : LinkClass::kSameHost;
  }
  return siteOfHost_[ha] == siteOfHost_[hb] ? LinkClass::kSameSite : LinkClass::kCrossSite;
}

LinkClass ClusterView::widestClass() const {
  if (numSites() > 1) return LinkClass::kCrossSite;
  if (numHosts() > 1) return LinkClass::kSameSite;
  for (int r = 1; r < nranks(); ++r) {
    if (linkClass(0, r) == LinkClass::kSameHost) return LinkClass::kSameHost;
  }
  return nranks() > 1 ? LinkClass::kSameDevice : LinkClass::kSameHost;
}

uint64_t ClusterView::fingerprint() const {
  std::ostringstream s;
  for (int r = 0; r < nranks(); ++r) s << hostOf_[r] << ':' << device_[r] << ',';
  s << '|';
  for (size_t h = 0; h < siteOfHost_.size(); ++h) s << siteOfHost_[h] << ',';
  s << '|';
  for (const LinkCost& c : costs_) s << c.alphaSec << '/' << c.bytesPerSec << '/' << c.overheadSec << ',';
  const std::string text = s.str();
  return fnv1a64(text.data(), text.size());
}

namespace {

// "0-3,8,10-11"
std::string compactRanks(const std::vector<int>& ranks) {
  std::ostringstream s;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (i > 0) s << ',';
    s << ranks[i];
    if (j > i) s << '-' << ranks[j];
    i = j + 1;
  }
  return s.str();
}

}  // namespace

std::string ClusterView::describe() const {
  std::ostringstream s;
  s << nranks() << " ranks on " << numHosts() << (numHosts() == 1 ? " host" : " hosts") << " in " << numSites()
    << (numSites() == 1 ? " site" : " sites") << ":";
  for (int site = 0; site < numSites(); ++site) {
    s << " site " << siteNames_[site] << " {";
    const auto& hosts = siteHosts_[site];
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (i >= 4 && hosts.size() > 5) {
        s << ", ... " << hosts.size() - i << " more";
        break;
      }
      s << (i ? ", " : "") << hostNames_[hosts[i]] << ": " << compactRanks(hostRanks_[hosts[i]]);
    }
    s << "}";
  }
  return s.str();
}

}  // namespace mixccl

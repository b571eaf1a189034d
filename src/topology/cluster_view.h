#pragma once
// The cluster as every rank sees it: which host and site each rank is on, and what a byte costs between them.
//
// Contract: built at init from facts gathered from every rank (through the bootstrap), so every rank holds an
// identical copy; fingerprint() lets init verify that. Algorithms and the selector read it; nothing here talks
// to peers. Hosts are numbered in the order of their lowest rank, sites likewise, and the ranks of a host are
// listed in ascending order: numbering depends only on the gathered facts.
#include <cstdint>
#include <string>
#include <vector>

namespace mixccl {

// How two ranks are connected, from closest to farthest.
enum class LinkClass : uint8_t { kSameDevice = 0, kSameHost, kSameSite, kCrossSite };
constexpr int kNumLinkClasses = 4;
const char* linkClassName(LinkClass c);  // "same-device", "same-host", "same-site", "cross-site"

// The cost of one message over one link (the LogGP idea): latency alphaSec, CPU time overheadSec at each end
// (what a rank pays per message even when many are in flight at once), and bytes / bytesPerSec.
struct LinkCost {
  double alphaSec = 0;
  double bytesPerSec = 1;
  double overheadSec = 0;
  // One message on its own: latency, both ends' overhead, transfer.
  double seconds(double bytes) const { return alphaSec + 2 * overheadSec + bytes / bytesPerSec; }
};

// What one rank contributes to the view.
struct RankPlacement {
  std::string host;   // host identity (ranks with equal strings share a host)
  std::string site;   // site label (MIXCCL_SITE or a measured cluster); "" = the default site
  int32_t device = -1;  // GPU index on its host, -1 for host memory
};

class ClusterView {
 public:
  // All `nranks` ranks on one host of one site, with the default costs.
  static ClusterView singleHost(int nranks);
  // One host per rank (used by tests and the simulator to model networks), all in one site.
  static ClusterView hostPerRank(int nranks);
  // From every rank's placement (index = rank) and the cost of each link class.
  static ClusterView build(const std::vector<RankPlacement>& placements, const LinkCost (&costs)[kNumLinkClasses]);
  // The default costs of each class (host memory over shm; a data-centre network; a WAN).
  static void defaultCosts(LinkCost (&costs)[kNumLinkClasses]);

  int nranks() const { return static_cast<int>(hostOf_.size()); }
  int numHosts() const { return static_cast<int>(hostRanks_.size()); }
  int numSites() const { return static_cast<int>(siteHosts_.size()); }
  int hostOf(int rank) const { return hostOf_[rank]; }
  int siteOfHost(int host) const { return siteOfHost_[host]; }
  int siteOf(int rank) const { return siteOfHost_[hostOf_[rank]]; }
  // The ranks on `host`, ascending.
  const std::vector<int>& ranksOnHost(int host) const { return hostRanks_[host]; }
  // The hosts of `site`, ascending.
  const std::vector<int>& hostsOfSite(int site) const { return siteHosts_[site]; }
  // Position of `rank` among the ranks of its host.
  int localIndex(int rank) const { return localIndex_[rank]; }
  // True when every host has the same number of ranks (and every site the same number of hosts).
  bool uniformHosts() const;
  bool uniformSites() const;

  LinkClass linkClass(int a, int b) const;
  const LinkCost& cost(LinkClass c) const { return costs_[static_cast<int>(c)]; }
  void setCost(LinkClass c, const LinkCost& cost) { costs_[static_cast<int>(c)] = cost; }
  // The farthest class any two ranks of the view are apart (kSameHost for a single host with several ranks).
  LinkClass widestClass() const;

  const std::string& hostName(int host) const { return hostNames_[host]; }
  const std::string& siteName(int site) const { return siteNames_[site]; }

  // A hash of everything above; equal views have equal fingerprints.
  uint64_t fingerprint() const;
  // "3 hosts in 2 sites: site a {h0: ranks 0-3, h1: 4-7}, ..." (ranks listed compactly).
  std::string describe() const;

 private:
  std::vector<int> hostOf_;
  std::vector<int> localIndex_;
  std::vector<int32_t> device_;
  std::vector<std::vector<int>> hostRanks_;
  std::vector<int> siteOfHost_;
  std::vector<std::vector<int>> siteHosts_;
  std::vector<std::string> hostNames_;
  std::vector<std::string> siteNames_;
  LinkCost costs_[kNumLinkClasses];
};

}  // namespace mixccl

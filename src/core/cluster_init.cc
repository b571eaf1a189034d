#include "core/cluster_init.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "core/config.h"
#include "core/log.h"
#include "topology/link_cost_text.h"

namespace mixccl {
namespace {

constexpr uint32_t kProbeTag = 0x50524f42;  // "PROB": the latency probe's bootstrap messages
constexpr int kProbeRounds = 8;             // round trips per pair; the fastest counts
constexpr int kMaxProbedHosts = 32;
// When ranks take turns on CPUs: a hand-off to a sleeping rank (futex wake-up and reschedule), and the handling of
// one more message within a wake-up. Fit to 8 ranks on the project's 2-CPU VM (2026-11-26, after shm releases
// stopped waking senders that do not wait for a slot): direct all-reduce (1 hand-off, 14 messages per rank) took
// 98-106 us at 4-16 KiB, two-shot (2 hand-offs, 28 messages) 149-170 us.
constexpr double kWakeupSec = 30e-6;
constexpr double kSharedCpuSec = 3e-6;

// The most ranks per CPU on any host (ranks / CPUs in the union of their affinity masks); <= 1 means every
// rank of every host can have a core.
double ranksPerCpu(const ClusterView& view, const std::vector<RankFacts>& facts) {
  double worst = 0;
  for (int h = 0; h < view.numHosts(); ++h) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int r : view.ranksOnHost(h)) CPU_OR(&all, &all, &facts[r].cpus);
    const int cpus = std::max(1, CPU_COUNT(&all));
    worst = std::max(worst, static_cast<double>(view.ranksOnHost(h).size()) / cpus);
  }
  return worst;
}

// Round-trip time between this rank (a host leader) and every other leader; 0 where not measured. The pairs meet
// in the rounds of a tournament, every leader taking its rounds in order, so the pairs of a round run at once and
// no two leaders wait on each other in a cycle.
Result probeLeaders(Bootstrap& bs, const std::vector<int>& leaders, std::vector<double>* rttOut) {
  const int h = static_cast<int>(leaders.size());
  const int mine = static_cast<int>(std::find(leaders.begin(), leaders.end(), bs.rank()) - leaders.begin());
  rttOut->assign(h, 0.0);
  const int rounds = (h % 2 == 0 ? h : h + 1) - 1;
  for (int t = 0; t < rounds; ++t) {
    const int other = roundPartner(mine, t, h);
    if (other < 0) continue;
    const bool first = mine < other;
    const int peer = leaders[other];
    double best = 1e9;
    uint64_t word = 0;
    for (int round = 0; round <= kProbeRounds; ++round) {  // round 0 warms the connection up
      const auto t0 = std::chrono::steady_clock::now();
      if (first) {
        MIXCCL_TRY(bs.send(peer, kProbeTag, &word, sizeof(word)));
        MIXCCL_TRY(bs.recv(peer, kProbeTag, &word, sizeof(word)));
      } else {
        MIXCCL_TRY(bs.recv(peer, kProbeTag, &word, sizeof(word)));
        MIXCCL_TRY(bs.send(peer, kProbeTag, &word, sizeof(word)));
      }
      const double rtt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (round > 0) best = std::min(best, rtt);
    }
    (*rttOut)[other] = best;
  }
  return mixcclSuccess;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

int roundPartner(int i, int t, int h) {
  const int m = h % 2 == 0 ? h : h + 1;
  int partner;
  if (i == m - 1) {
    partner = t;
  } else if (i == t) {
    partner = m - 1;
  } else {
    partner = ((2 * t - i) % (m - 1) + (m - 1)) % (m - 1);
  }
  return partner < h ? partner : -1;
}

std::vector<int> sitesFromLatency(const std::vector<std::vector<double>>& rtt) {
  const int h = static_cast<int>(rtt.size());
  double smallest = 1e9;
  for (int i = 0; i < h; ++i) {
    for (int j = 0; j < h; ++j) {
      if (i != j) smallest = std::min(smallest, rtt[i][j]);
    }
  }
  const double threshold = 4 * smallest + 200e-6;
  // Union-find over "close" pairs; each site is then named by its lowest host.
  std::vector<int> parent(h);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (int i = 0; i < h; ++i) {
    for (int j = i + 1; j < h; ++j) {
      if (rtt[i][j] <= threshold) {
        int a = find(i), b = find(j);
        parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  std::vector<int> site(h, -1), siteOfRoot(h, -1);
  int sites = 0;
  for (int i = 0; i < h; ++i) {
    int root = find(i);
    if (siteOfRoot[root] < 0) siteOfRoot[root] = sites++;
    site[i] = siteOfRoot[root];
  }
  return site;
}

Result buildClusterView(Bootstrap& bs, const std::vector<RankFacts>& facts, ClusterView* out) {
  const int n = static_cast<int>(facts.size());
  const int me = bs.rank();
  std::vector<RankPlacement> placements(n);
  bool labelled = false;
  for (int r = 0; r < n; ++r) {
    placements[r].host = std::to_string(facts[r].hostHash) + ":" + facts[r].hostname;
    placements[r].site = facts[r].site;
    labelled = labelled || !facts[r].site.empty();
  }
  // Ranks of one host must agree on its site.
  for (int r = 0; r < n; ++r) {
    for (int q = 0; q < r; ++q) {
      if (placements[q].host == placements[r].host && placements[q].site != placements[r].site) {
        return failf(mixcclInvalidUsage, "MIXCCL_SITE differs on host %s: rank %d says '%s', rank %d says '%s'",
                     facts[r].hostname.c_str(), q, facts[q].site.c_str(), r, facts[r].site.c_str());
      }
    }
  }

  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  ClusterView view = ClusterView::build(placements, costs);
  const double oversubscribed = ranksPerCpu(view, facts);
  if (oversubscribed > 1) {
    for (LinkClass c : {LinkClass::kSameDevice, LinkClass::kSameHost}) {
      LinkCost& cost = costs[static_cast<int>(c)];
      cost.alphaSec = std::max(cost.alphaSec, kWakeupSec);
      cost.overheadSec = std::max(cost.overheadSec, kSharedCpuSec);
      cost.bytesPerSec /= oversubscribed;
    }
    MIXCCL_LOG(kInfo, "%.3g ranks per CPU on a host: same-host links modelled at %.0f us, %.3g GB/s", oversubscribed,
               costs[1].alphaSec * 1e6, costs[1].bytesPerSec / 1e9);
  }
  const int hosts = view.numHosts();
  if (!labelled && hosts >= 2 && hosts <= kMaxProbedHosts) {
    std::vector<int> leaders(hosts);
    for (int h = 0; h < hosts; ++h) leaders[h] = view.ranksOnHost(h)[0];
    std::vector<double> mine(hosts, 0.0);
    if (view.localIndex(me) == 0) MIXCCL_TRY(probeLeaders(bs, leaders, &mine));
    std::vector<double> rows(static_cast<size_t>(n) * hosts);
    MIXCCL_TRY(bs.allGather(mine.data(), rows.data(), hosts * sizeof(double)));
    std::vector<std::vector<double>> rtt(hosts, std::vector<double>(hosts, 0.0));
    for (int i = 0; i < hosts; ++i) {
      for (int j = 0; j < hosts; ++j) rtt[i][j] = rows[static_cast<size_t>(leaders[i]) * hosts + j];
    }
    // Each pair was timed by both leaders; use the smaller value on both sides so the matrix is symmetric.
    for (int i = 0; i < hosts; ++i) {
      for (int j = i + 1; j < hosts; ++j) rtt[i][j] = rtt[j][i] = std::min(rtt[i][j], rtt[j][i]);
    }
    std::vector<int> site = sitesFromLatency(rtt);
    std::vector<double> near, far;
    for (int i = 0; i < hosts; ++i) {
      for (int j = i + 1; j < hosts; ++j) (site[i] == site[j] ? near : far).push_back(rtt[i][j] / 2);
    }
    if (!near.empty()) costs[static_cast<int>(LinkClass::kSameSite)].alphaSec = median(near);
    if (!far.empty()) costs[static_cast<int>(LinkClass::kCrossSite)].alphaSec = median(far);
    for (int r = 0; r < n; ++r) placements[r].site = "site" + std::to_string(site[view.hostOf(r)]);
    MIXCCL_LOG(kInfo, "%d hosts probed: %d site(s); one-way latency within a site %.1f us, across %.1f us", hosts,
               *std::max_element(site.begin(), site.end()) + 1, near.empty() ? 0.0 : median(near) * 1e6,
               far.empty() ? 0.0 : median(far) * 1e6);
  }

  std::string costError;
  const bool costsOk = parseLinkCosts(configString(cfg::kLinkCosts), costs, &costError);
  view = ClusterView::build(placements, costs);
  // Fingerprints: 0 marks a rank whose MIXCCL_LINK_COSTS did not parse (it still takes part, so all fail).
  uint64_t fp = costsOk ? view.fingerprint() | 1 : 0;
  std::vector<uint64_t> all(n);
  MIXCCL_TRY(bs.allGather(&fp, all.data(), sizeof(fp)));
  if (!costsOk) return failf(mixcclInvalidUsage, "MIXCCL_LINK_COSTS: %s", costError.c_str());
  for (int r = 0; r < n; ++r) {
    if (all[r] == 0) {
      return failf(mixcclInvalidUsage, "rank %d (%s) has a malformed MIXCCL_LINK_COSTS", r, facts[r].hostname.c_str());
    }
    if (all[r] != fp) {
      return failf(mixcclInvalidUsage, "the cluster view of rank %d (%s) differs from this rank %d's: MIXCCL_SITE or "
                   "MIXCCL_LINK_COSTS must describe the same cluster on every rank", r, facts[r].hostname.c_str(), me);
    }
  }
  MIXCCL_LOG(kInfo, "cluster: %s", view.describe().c_str());
  *out = std::move(view);
  return mixcclSuccess;
}

}  // namespace mixccl

#pragma once
// Builds a communicator's ClusterView at init, from what every rank contributed to the PeerInfo exchange.
//
//   hosts:  ranks with the same host identity (topology/host_id.h);
//   sites:  MIXCCL_SITE labels when any rank gives one (ranks of one host must agree); otherwise, with 2..32
//           hosts, the round-trip time between host leaders (the lowest rank of each host) is measured over the
//           bootstrap and hosts closer than a threshold are joined into one site;
//   costs:  ClusterView::defaultCosts; where the ranks of a host outnumber the CPUs they may run on, same-host
//           links cost a futex wake-up (waiting ranks sleep instead of spinning) and a share of a core's
//           bandwidth; the measured latencies when the probe ran; then MIXCCL_LINK_COSTS.
// Collective: every rank calls it after the PeerInfo all-gather. Every rank ends with the same view, which is
// checked by exchanging fingerprints; a rank whose MIXCCL_LINK_COSTS does not parse, or whose view differs,
// makes every rank fail with an error naming it.
#include <sched.h>

#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "topology/cluster_view.h"

namespace mixccl {

// The facts a rank contributes (filled from PeerInfo).
struct RankFacts {
  uint64_t hostHash = 0;
  std::string hostname;
  std::string site;  // MIXCCL_SITE, "" when unset
  cpu_set_t cpus;    // the rank's CPU affinity
};

Result buildClusterView(Bootstrap& bootstrap, const std::vector<RankFacts>& facts, ClusterView* out);

// The partner of leader i in round t of a round-robin tournament over h leaders (the circle method; with h odd a
// phantom leader h evens the count, and a leader paired with it sits the round out: -1). Over the rounds
// 0 .. (h rounded up to even) - 2 every pair meets exactly once, and the pairs of one round are disjoint. Pure.
int roundPartner(int i, int t, int h);

// Groups hosts into sites from their leaders' round-trip times (rtt[i][j], seconds, symmetric, i != j): hosts
// i and j share a site when rtt <= 4 x the smallest rtt + 200 us, taken transitively. Returns the site index of
// every host, sites numbered by their lowest host. Pure (unit-tested).
std::vector<int> sitesFromLatency(const std::vector<std::vector<double>>& rtt);

}  // namespace mixccl

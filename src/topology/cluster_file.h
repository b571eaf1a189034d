#pragma once
// A small text description of a cluster, for mixccl-info --cluster (tables and simulations of clusters that are
// not here). One statement per line; '#' starts a comment:
//
//   site <name> hosts=<H> ranks_per_host=<L> [gpus_per_host=<G>]
//   link <class> <latency> <bandwidth>
//
// Sites are listed in order; ranks are numbered site by site, host by host. With gpus_per_host, local rank l
// uses GPU l % G (so ranks share a GPU when L > G). `link` sets the cost of a class (same-device, same-host,
// same-site, cross-site; units as in link_cost_text.h); classes not given keep ClusterView::defaultCosts.
// Example: two providers of 4 hosts with 8 GPUs each, joined by a WAN:
//
//   site aws hosts=4 ranks_per_host=8 gpus_per_host=8
//   site gcp hosts=4 ranks_per_host=8 gpus_per_host=8
//   link same-host  3us 150GB/s
//   link same-site  15us 25GB/s
//   link cross-site 2ms 1.25GB/s
#include <string>

#include "core/status.h"
#include "topology/cluster_view.h"

namespace mixccl {

// Parses `text` (`source` names it in errors: "file.txt"). mixcclInvalidArgument naming source:line on a bad
// statement; at least one site with >= 1 host and rank is required.
Result parseClusterText(const std::string& text, const std::string& source, ClusterView* out);
// Reads and parses a file (mixcclInvalidArgument naming it if it cannot be read).
Result loadClusterFile(const std::string& path, ClusterView* out);

}  // namespace mixccl

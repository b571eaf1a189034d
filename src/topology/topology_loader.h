#pragma once
// Where a LocalTopology comes from: the live machine through hwloc, or an hwloc XML file (MIXCCL_TOPO_FILE) that
// describes a machine we do not have.
//
// Contract: blocking (hwloc discovery of a large machine takes tens of milliseconds), callable from any thread;
// nothing is cached. On failure the error is logged once (failf) naming the file or the hwloc call, and *out is
// left untouched. A build without hwloc (MIXCCL_WITH_HWLOC=OFF or libhwloc-dev missing) fails every load with
// mixcclInvalidUsage saying so; it never makes up a topology.
#include <string>

#include "core/status.h"
#include "topology/local_topology.h"

namespace mixccl {

// True when this build can load topologies (it was built with hwloc).
bool topologyDiscoveryBuiltIn();

// The file named by MIXCCL_TOPO_FILE when it is set, else the live machine.
Result loadLocalTopology(LocalTopology* out);

// This machine, as hwloc sees it from this process (its cgroup's CPUs). GPU runtime indices come from the CUDA
// and HIP runtimes when their libraries load (gpu_runtime_ids.h): this initialises those runtimes in the calling
// process, so a process that forks children which use a GPU should not call it before forking.
Result loadLiveTopology(LocalTopology* out);

// An hwloc XML file, as `lstopo --of xml` writes it. GPU runtime indices come only from the file (hwloc's cuda
// or rsmi devices), never from this machine's runtimes: the file describes another machine.
Result loadTopologyXml(const std::string& path, LocalTopology* out);

}  // namespace mixccl

#pragma once
// LocalTopology as text for people (mixccl-info, logs).
#include <string>

#include "topology/local_topology.h"

namespace mixccl {

// Pure: the source, CPUs (packages, NUMA nodes with their cores and memory), GPUs, NICs and the GPU x NIC table
// of PCIe distance classes with each GPU's closest NIC marked '*'. Several lines, each ending in '\n'.
std::string renderLocalTopology(const LocalTopology& t);

// Loads this node's topology (loadLocalTopology: MIXCCL_TOPO_FILE or the live machine) and renders it; when
// loading fails, one line with the reason (the error is also logged once by the loader).
std::string localTopologySection();

}  // namespace mixccl

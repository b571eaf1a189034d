#pragma once
// The hwloc source of LocalTopology (compiled only when the build has hwloc; see topology_loader.h).
#include "core/status.h"
#include "topology/local_topology.h"

namespace mixccl::detail {

// Loads the live machine (xmlPath == nullptr) or the hwloc XML file `xmlPath` with hwloc and converts it into
// *out. I/O objects are kept (PCI functions of every class, the bridges above them, OS devices); caches are not.
// Logs and returns mixcclSystemError (live) or mixcclInvalidArgument (file) when hwloc fails.
Result readHwlocTopology(const char* xmlPath, LocalTopology* out);

}  // namespace mixccl::detail

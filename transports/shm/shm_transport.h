#pragma once
// The shared-memory transport: byte FIFOs between processes of one host (see README.md).
#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "transports/transport.h"

namespace mixccl {

// Collective over ALL ranks of `boot` (a rank alone on its host calls it too and gets a transport that reaches
// no peer). `localRanks`: the global ranks on this host, sorted, including this rank; every rank of the host
// must pass the same list. Each rank creates one segment, the ranks exchange names through the bootstrap, map
// their local peers' segments, and unlink their own before returning, so nothing is left in /dev/shm.
// Reads MIXCCL_SHM_SLOT_BYTES, MIXCCL_SHM_SLOTS and MIXCCL_SPIN_US.
// Errors: mixcclInvalidArgument (bad localRanks or options), mixcclSystemError (shm_open/mmap), mixcclInvalidUsage
// (local ranks disagree on the options), mixcclRemoteError (a peer failed to set up), bootstrap errors
// unchanged. On error *out is untouched and nothing is left in /dev/shm.
Result createShmTransport(Bootstrap& boot, const std::vector<int>& localRanks, std::unique_ptr<Transport>* out);

}  // namespace mixccl

#pragma once
// The libfabric (OFI) transport: staging slots over tagged messages of an RDM endpoint (see README.md).
#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "transports/transport.h"

namespace mixccl {

// Collective over ALL ranks of `boot`: every rank calls it, with `peers` = the global ranks (sorted, unique, never
// this rank) it reaches through ofi, possibly none. Ranks with peers agree on one provider (MIXCCL_OFI_PROVIDER,
// else automatic; the lowest such rank's choice wins), open an endpoint, exchange addresses through the bootstrap,
// register their staging slots and pre-post their receives; then all ranks exchange their setup status.
// Errors: mixcclInvalidArgument (bad peers), mixcclSystemError (libfabric, with fi_strerror text),
// mixcclInvalidUsage (the winner's provider is missing here), mixcclRemoteError (another rank failed to set up),
// bootstrap errors unchanged. On error *out is untouched.
Result createOfiTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out);

}  // namespace mixccl

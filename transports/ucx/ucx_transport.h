#pragma once
// The UCX transport: tagged messages through one UCP worker per communicator (see README.md).
#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "transports/transport.h"

namespace mixccl {

// Collective over ALL ranks of `boot`: every rank calls it, `peers` being the global ranks this rank reaches
// through UCX (sorted, unique, never this rank; possibly empty: such a rank only takes part in the exchanges and
// creates no UCX context). Each rank with peers creates a context + worker + registered slot memory, the ranks
// allGather their worker addresses, and each creates one endpoint per peer and pre-posts its receives.
// Errors: mixcclInvalidArgument (bad peers, more than 2^24 ranks), mixcclSystemError (a UCX call failed, with its
// status string), mixcclRemoteError (another rank failed to set up), bootstrap errors unchanged. All ranks fail
// together; on error *out is untouched.
Result createUcxTransport(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out);

}  // namespace mixccl

#pragma once
// Which libfabric provider the ofi transport uses, and the agreement on it across ranks.
#include <rdma/fabric.h>

#include <string>

#include "bootstrap/bootstrap.h"
#include "core/status.h"

namespace mixccl::detail {

// The longest provider name carried in the agreement record ("verbs;ofi_rxm" and the like), NUL included.
constexpr size_t kOfiProviderNameBytes = 64;

// fi_strerror(-ret) as a std::string (ret is a negative libfabric return code).
std::string ofiErrorText(long ret);

// Finds a reliable-datagram (FI_EP_RDM) tagged-message endpoint description. `provider` is a libfabric provider
// name ("tcp", "shm", "tcp;ofi_rxm", ...) or "" for automatic: a hardware provider (efa, verbs, psm3, cxi, opx,
// psm2) if one is present, else tcp. "tcp" falls back to "tcp;ofi_rxm" when plain tcp has no RDM endpoint.
// On success *out owns a single fi_info (free with fi_freeinfo). Errors (logged once): mixcclSystemError when
// no matching provider exists here.
Result ofiFindInfo(const std::string& provider, fi_info** out);

// Collective over ALL ranks of `boot`. Each rank that `needsFabric` finds an info (ofiFindInfo with
// MIXCCL_OFI_PROVIDER), then the ranks gather their provider names and the lowest rank that needs the fabric
// wins: a rank that chose another provider asks for the winner's by name. Ranks that do not need the fabric take
// part with an empty record and get *out == nullptr. `localOk` carries an earlier local failure into the
// exchange (the rank then takes part without choosing). Errors: this rank's own (logged), or mixcclRemoteError
// naming the winning rank when it found no provider, or mixcclInvalidUsage when the winner's provider is not
// available here.
Result ofiAgreeOnInfo(Bootstrap& boot, bool needsFabric, Result localOk, fi_info** out);

}  // namespace mixccl::detail

#pragma once
// Which libfabric provider the ofi transport uses, and the agreement on it across ranks.
#include <rdma/fabric.h>

#include <string>

#include "bootstrap/bootstrap.h"
#include "core/status.h"

namespace mixccl::detail {

// The longest provider name carried in the agreement record ("verbs;ofi_rxm" and the like), NUL included.
constexpr size_t kOfiProviderNameBytes = 64;

// rxm, the reliable-datagram layer libfabric puts over tcp and verbs ("tcp;ofi_rxm"), sends a message larger than
// its eager buffer (FI_OFI_RXM_BUFFER_SIZE, 16 KiB by default) with a rendezvous handshake: over tcp a round trip
// per message that saves no copy. The transport raises that buffer to kRxmEagerBytes plus rxm's header (unless
// FI_OFI_RXM_BUFFER_SIZE is set) before libfabric starts, and keeps its slots on rxm providers within the eager
// size that is in force (rxmEagerBytes()). Larger eager buffers cost rxm's pools hundreds of MiB per process.
constexpr size_t kRxmEagerBytes = size_t(64) << 10;
constexpr size_t kRxmHeaderBytes = 512;
// The eager message size rxm uses in this process: FI_OFI_RXM_BUFFER_SIZE less its header.
size_t rxmEagerBytes();

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

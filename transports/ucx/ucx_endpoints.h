#pragma once
// Worker address exchange through the bootstrap, and UCP endpoints to the peers (create, describe, close).
#include <ucp/api/ucp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "transports/ucx/ucx_channels.h"
#include "transports/ucx/ucx_worker.h"

namespace mixccl::detail {

// What every rank publishes about itself (fixed size, so the bootstrap can allGather it).
struct UcxRankRecord {
  uint32_t addressBytes = 0;  // 0: this rank has no UCX worker (no UCX peers, or its setup failed)
  int32_t pid = 0;
  uint64_t hostHash = 0;      // same value: same host (topology/host_id.h), so the pid can be watched
  char host[64] = {};         // for messages
};

// Collective over all ranks of `boot`: gathers every rank's record, then every worker address (padded to the
// longest one). `worker` may be nullptr: this rank then publishes an empty address.
Result exchangeAddresses(Bootstrap& boot, const UcxWorker* worker, std::vector<UcxRankRecord>* records,
                         std::vector<std::vector<char>>* addresses);

// Connects `peer` (its rank and worker set) to the worker at `address`. With *peerErrorMode, asks for error
// handling mode PEER (a UCX error on the endpoint later marks the peer failed); where the transports UCX picks
// cannot do that (shared memory in UCX 1.13), connects in mode NONE and clears *peerErrorMode, so later calls do
// not try again. Errors: mixcclSystemError with the UCX status string.
Result createEndpoint(UcxPeer* peer, const std::vector<char>& address, int ownRank, bool* peerErrorMode);

// The UCX transports/devices of an endpoint's lanes, each once, e.g. {"tcp/lo.0"} or {"sysv/memory.0",
// "cma/memory.0"} (from ucp_ep_print_info: UCX 1.13 has no query for them); empty if UCX printed none.
std::vector<std::string> endpointTransports(ucp_ep_h ep);
// endpointTransports joined by spaces, "?" if none: for the log.
std::string describeEndpoint(ucp_ep_h ep);
// True if every lane of the endpoint is UCX's tcp transport.
bool endpointIsTcpOnly(ucp_ep_h ep);

// Closes every endpoint (flush for live peers, force for failed ones) and waits at most `timeoutSec` for the
// closes to finish; never blocks longer. Sets every peer's ep to nullptr.
void closeEndpoints(UcxWorker& worker, std::vector<UcxPeer>& peers, double timeoutSec);

}  // namespace mixccl::detail

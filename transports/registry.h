#pragma once
// The transports compiled into this build, and which one carries each pair of ranks.
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "transports/transport.h"

namespace mixccl {

// Creates a transport that reaches `peers` (global ranks, sorted, never this rank). Collective over ALL ranks of
// `boot`: every rank calls the factory of a transport that any rank uses, with its own (possibly empty) list.
using TransportFactory = Result (*)(Bootstrap& boot, const std::vector<int>& peers, std::unique_ptr<Transport>* out);

struct TransportInfo {
  const char* name;          // "shm", "ucx", "ofi"
  bool network;              // reaches other hosts
  TransportFactory create;   // nullptr for shm (created with its own local-rank signature)
};

// Every transport compiled in, in preference order (shm first, then the network ones).
const std::vector<TransportInfo>& compiledTransports();

// Parses MIXCCL_TRANSPORTS ("auto" or a comma list of names) into a bit mask over compiledTransports().
// An unknown name, or a name not compiled into this build, is mixcclInvalidUsage naming it.
Result allowedTransports(const std::string& spec, uint32_t* mask);

// The index (into compiledTransports()) of the transport for a pair of ranks, or -1 if none may carry it.
// Depends only on shared facts (same host or not, the allowed mask), so both ranks of a pair agree.
int transportForPair(bool sameHost, uint32_t allowedMask);

}  // namespace mixccl

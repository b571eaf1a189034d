#pragma once
// The contents of a mixcclUniqueId: the root's TCP address and a random 128-bit job secret, with a magic and
// a checksum so that a forged or corrupted id is recognised before anything is sent.
#include <cstdint>
#include <string>

#include "core/status.h"
#include "mixccl.h"

namespace mixccl {

struct UniqueId {
  std::string host;  // numeric IPv4/IPv6 address of the root
  uint16_t port = 0;
  uint8_t secret[16] = {};
  // True when the root was already listening before this id existed (createUniqueId): a refused connection
  // then means the root is gone, i.e. the id was used already, and init fails at once instead of retrying
  // until the timeout. False for launcher ids, whose root (rank 0) may start after the other ranks.
  bool rootListening = false;
};

// Serialises into / parses from the 128 public bytes. decode() fails with mixcclInvalidArgument (message
// saying what is wrong) on a bad magic or checksum.
void encodeUniqueId(const UniqueId& id, mixcclUniqueId* out);
Result decodeUniqueId(const mixcclUniqueId& in, UniqueId* out);

// Creates a fresh id for this host (address of MIXCCL_SOCKET_IFNAME or the default interface, an ephemeral
// port, a secret from the kernel's random source) and starts the root in a background thread of this
// process: it accepts exactly one communicator's ranks, checks the secret, then exits (or exits after the
// timeout if the ranks never come).
Result createUniqueId(UniqueId* out);

// Init from a launcher's environment. Reads rank and size (torchrun RANK/WORLD_SIZE, Open MPI
// OMPI_COMM_WORLD_RANK/SIZE, Slurm SLURM_PROCID/SLURM_NTASKS), the root address (MIXCCL_ROOT_ADDR host:port;
// else MASTER_ADDR with port MASTER_PORT+1; else 127.0.0.1 and a port derived from the job id when every rank
// is on one host) and the secret (MIXCCL_SECRET, else derived from the launcher's job id). Rank 0 starts the
// root at that address. Errors (mixcclInvalidUsage) name the variable that is missing or malformed.
Result uniqueIdFromEnv(UniqueId* id, int* rank, int* nranks);

}  // namespace mixccl

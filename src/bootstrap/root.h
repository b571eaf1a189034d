#pragma once
// The root of ONE rendezvous, served by a detached thread of the process that created the id (or of rank 0
// for launcher ids).
//
// It accepts connections on `listener`, reads each one's RootHello, drops those with a wrong secret or a
// malformed hello (silently: a stray client must not break the job), and rejects with an error reply a rank
// that already joined (a reused id), an nranks that disagrees with the first rank's, or an out-of-range rank.
// When all nranks ranks have joined it sends each the table of all ranks' listener addresses, closes
// everything and exits. It gives up (telling the ranks that joined which ranks are missing) at `timeoutSec`
// after start, or a little before the earliest deadline announced by a joined rank; and it aborts at once
// (telling the others) when a joined rank closes its connection before the table was sent.
//
// Fork and logging: the thread never logs and never calls fail() (processes may fork while it runs; its fds
// are closed in forked children, see Fd). Its only shared state is what it owns.
#include <cstdint>

#include "bootstrap/socket.h"
#include "core/status.h"

namespace mixccl::detail {

// Takes `listener` (already listening). Fails (mixcclSystemError) only if the thread cannot be started.
Result startRoot(Fd listener, const uint8_t* secret, double timeoutSec);

}  // namespace mixccl::detail

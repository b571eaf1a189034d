#pragma once
// Out-of-band communication between the ranks of a communicator, over TCP, used at init (exchange of
// addresses and node info), by transports to exchange their connection blobs, and for small control messages.
//
// Contract: every function is collective unless stated otherwise (all ranks call it, in the same order), is
// called from one thread per rank, and gives up with an error after the bootstrap's timeout, naming the peer
// it was waiting for. Every connection first presents the job secret from the unique id; a connection that
// does not is dropped. The object is not thread-safe.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bootstrap/unique_id.h"
#include "core/status.h"

namespace mixccl {

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int nranks() const = 0;

  // Every rank contributes `bytes` bytes at `mine`; `all` receives nranks * bytes, rank r's at r * bytes.
  virtual Result allGather(const void* mine, void* all, size_t bytes) = 0;
  // Returns when every rank has entered.
  virtual Result barrier() = 0;

  // Point-to-point (not collective): a message of `bytes` bytes with `tag`; recv() waits for the message of
  // that peer with that tag (messages with other tags are kept for later recv() calls).
  virtual Result send(int peer, uint32_t tag, const void* data, size_t bytes) = 0;
  virtual Result recv(int peer, uint32_t tag, void* data, size_t bytes) = 0;

  // Non-blocking liveness check of the control connections: mixcclRemoteError (logged, naming the rank) if a
  // peer this rank is connected to has closed its end (its process ended), else mixcclSuccess.
  virtual Result checkAlive() = 0;

  // Non-blocking, not collective, logs nothing: true if a control connection to `peer` (ring neighbour or
  // point-to-point) was closed by the other end, with *why naming it. False when there is no such connection.
  // A peer whose process ended closes them; so does a peer that destroyed its communicator, so callers ask only
  // about peers they still wait for.
  virtual bool peerClosed(int peer, std::string* why) = 0;
};

// Joins the communicator described by `id` as `rank` of `nranks`: connects to the root (retrying until the
// root is up or the timeout passes), presents the secret, receives every rank's address, and connects the
// ranks among themselves. Errors: mixcclInvalidArgument for a malformed id or arguments; mixcclInvalidUsage
// when this process already used the id for `rank` (an id serves one communicator) or the ranks disagree on
// nranks; mixcclRemoteError when the root refuses us (wrong secret, rank already taken: a reused id), is gone or
// unreachable, or a rank never comes; mixcclSystemError for local socket failures.
Result bootstrapInit(const UniqueId& id, int rank, int nranks, double timeoutSec, std::unique_ptr<Bootstrap>* out);

}  // namespace mixccl

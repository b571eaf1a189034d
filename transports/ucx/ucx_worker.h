#pragma once
// One UCP context and one UCP worker for a UcxTransport, the registered slot memory, and sleeping on the worker.
//
// Contract: owned by one UcxTransport and used from the one thread that drives the communicator (the worker is
// created UCS_THREAD_MODE_SINGLE). The transport closes its endpoints before destroying this object.
#include <ucp/api/ucp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"

namespace mixccl::detail {

class UcxWorker {
 public:
  // Creates the context (features TAG | WAKEUP; UCX_TLS, UCX_NET_DEVICES etc. are read from the environment by
  // UCX) and the worker, and allocates `memoryBytes` of host memory registered with ucp_mem_map. `largestMessage`
  // (the slot size) bounds the eager sends of peers over TCP (see ucx_channels.h). Errors: mixcclSystemError with
  // the UCX status string; on error *out is untouched.
  static Result create(int rank, size_t memoryBytes, size_t largestMessage, std::unique_ptr<UcxWorker>* out);
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;
  // Destroys the worker, then unmaps the memory and cleans the context up. Requests still outstanding are
  // abandoned (their callbacks do not run after this).
  ~UcxWorker();

  ucp_worker_h worker() const { return worker_; }
  char* memory() const { return memory_; }
  size_t memoryBytes() const { return memoryBytes_; }
  ucp_mem_h memh() const { return memh_; }
  // This worker's address, to be given to the peers' ucp_ep_create.
  Result address(std::vector<char>* out) const;

  // One round of progress; returns the number of events UCX processed (callbacks may have run).
  unsigned progress() { return ucp_worker_progress(worker_); }
  // The completion counter: bumped by every completion or error callback of this transport.
  uint32_t events() const { return events_; }
  void bumpEvents() { ++events_; }
  // Blocks until the worker has something to progress or `timeoutNs` passes (ucp_worker_arm + ppoll on the
  // worker's event fd), then progresses once. Returns early (after progressing) when events are pending.
  void sleep(uint64_t timeoutNs);

 private:
  UcxWorker() = default;

  int rank_ = -1;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int eventFd_ = -1;     // -1: the worker cannot sleep; sleep() naps briefly instead
  ucp_mem_h memh_ = nullptr;
  char* memory_ = nullptr;
  size_t memoryBytes_ = 0;
  uint32_t events_ = 0;
};

}  // namespace mixccl::detail

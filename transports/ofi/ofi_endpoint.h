#pragma once
// One libfabric endpoint and everything it hangs on: fabric, domain, completion queue, address vector, and one
// registered memory region. Owns the handles (closed in reverse order of creation) and the completion loop.
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixccl::detail {

struct OfiOp;

// Receives the completions of the operations it posted. Called from OfiEndpoint::progress() on the driving thread.
class OfiCompletionSink {
 public:
  virtual ~OfiCompletionSink() = default;
  // `op` completed; `len` is the received length for receives.
  virtual void onCompletion(OfiOp* op, size_t len) = 0;
  // `op` failed (err is a positive FI_E* code; FI_ECANCELED after a cancel); `text` is the provider's message.
  virtual void onError(OfiOp* op, int err, const std::string& text) = 0;
};

// The context of one posted operation. Starts with struct fi_context2, which the FI_CONTEXT / FI_CONTEXT2 modes
// give to the provider for the lifetime of the operation; the rest is ours.
struct OfiOp {
  fi_context2 fi{};
  OfiCompletionSink* sink = nullptr;
  int slot = 0;         // the slot (or abort word) the operation uses
  bool posted = false;  // the provider holds it: between a successful post and its completion
};
static_assert(offsetof(OfiOp, fi) == 0, "the provider's context must come first");

class OfiEndpoint {
 public:
  // Opens fabric, domain, CQ (FI_CQ_FORMAT_TAGGED, an FD wait object if the provider has one), AV (FI_AV_TABLE)
  // and an enabled RDM endpoint for `info`, which it takes over. Errors (logged): mixcclSystemError.
  static Result open(fi_info* info, std::unique_ptr<OfiEndpoint>* out);
  ~OfiEndpoint();
  OfiEndpoint(const OfiEndpoint&) = delete;
  OfiEndpoint& operator=(const OfiEndpoint&) = delete;

  const fi_info* info() const { return info_; }
  fid_ep* ep() const { return ep_; }
  // Registers [base, base + bytes) for send and receive (bound to the endpoint when FI_MR_ENDPOINT); once.
  Result registerMemory(void* base, size_t bytes);
  // The descriptor to pass with buffers of the registered region (nullptr when the provider needs none).
  void* desc() const { return desc_; }
  // This endpoint's address as fi_getname gives it.
  Result localName(std::vector<uint8_t>* out) const;
  // Inserts one peer's address; *out is its fi_addr_t.
  Result insertPeer(const uint8_t* name, size_t bytes, int peerRank, fi_addr_t* out);

  // Reads the CQ until it is empty, handing every completion to its sink. Returns how many it handled.
  int progress();
  // Bumped by every completion (success or error): the transport's event token.
  uint32_t events() const { return events_; }
  // Returns once events() != token or `timeoutNs` passed: polls for `spinNs`, then sleeps on the CQ's file
  // descriptor (no lost wake-up: fi_trywait), or, without one, polls with 50 us naps.
  void wait(uint32_t token, uint64_t timeoutNs, uint64_t spinNs);
  bool hasWaitFd() const { return waitFd_ >= 0; }

 private:
  explicit OfiEndpoint(fi_info* info) : info_(info) {}
  Result openAll();
  void dispatch(const fi_cq_tagged_entry* entries, long n);
  void readError();

  fi_info* info_;
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_av* av_ = nullptr;
  fid_ep* ep_ = nullptr;
  fid_mr* mr_ = nullptr;
  void* desc_ = nullptr;
  int waitFd_ = -1;
  uint32_t events_ = 0;
};

}  // namespace mixccl::detail

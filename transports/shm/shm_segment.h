#pragma once
// A POSIX shared-memory segment: created (and later unlinked) by its owner, mapped by its local peers.
//
// Names are "/mixccl-<pid>-<16 hex digits>" (visible as /dev/shm/mixccl-...). The owner unlinks its segment
// as soon as every peer has mapped it, so a crash afterwards leaves nothing behind; a crash between create and
// unlink leaves a segment whose pid is dead, which the next create() on the host removes.
//
// Not thread-safe; an object is owned by one ShmTransport.
#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"

namespace mixccl::detail {

class ShmSegment {
 public:
  // Removes stale segments, then creates and maps a new zero-filled segment of `bytes` bytes: sparse (pages are
  // allocated when first touched), or with `reserve` all reserved in /dev/shm now, for a segment that will be used
  // whole: one that does not fit then fails here, not later with SIGBUS at the first touch of a page that tmpfs
  // cannot give. Errors: mixcclSystemError (logged with errno; too little /dev/shm says so).
  static Result create(size_t bytes, std::unique_ptr<ShmSegment>* out, bool reserve = false);
  // Maps an existing segment created by a peer. Errors: mixcclSystemError (logged with errno).
  static Result open(const std::string& name, std::unique_ptr<ShmSegment>* out);

  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  // Unmaps; the owner also unlinks the name if it is still linked.
  ~ShmSegment();

  // Owner only: removes the name so no one else can open it (existing mappings stay valid). Idempotent.
  Result unlink();

  void* base() const { return base_; }
  size_t bytes() const { return bytes_; }
  const std::string& name() const { return name_; }

 private:
  ShmSegment(std::string name, void* base, size_t bytes, bool owner)
      : name_(std::move(name)), base_(base), bytes_(bytes), linked_(owner) {}

  std::string name_;
  void* base_;
  size_t bytes_;
  bool linked_;  // owner and not yet unlinked
};

// Unlinks every /dev/shm/mixccl-<pid>-* whose pid no longer exists. Returns how many were removed. A segment of
// a live process (or of a recycled pid) is left alone.
int removeStaleShmSegments();

// Bytes still free in /dev/shm (tmpfs), or -1 if unknown. Touching a page of a sparse segment when tmpfs is full
// kills the process with SIGBUS, so the transport warns when its worst case does not fit.
long long shmFreeBytes();

// The prefix of every segment name created by process `pid`, without the leading '/': "mixccl-<pid>-".
std::string shmSegmentPrefix(int pid);

}  // namespace mixccl::detail

#pragma once
// Where the time of a communicator's staged jobs went, by size class: how long the proxy, once it took a job up,
// waited for its inputs to land (the user's stream reaching the call and copying in, behind the copies back of the
// job before it) and how long the host then ran it. A call cut into pieces (MIXCCL_STAGED_PIECE_BYTES) is one job per
// piece, counted at the piece's size. The proxy (core/stream_proxy.h) logs the classes at teardown
// (MIXCCL_DEBUG=INFO), so one GPU run tells the GPU's turnaround from the host engine's work, size by size.
//
// Contract: used by one thread (the proxy's); add() is cheap (no allocation, no lock).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mixccl {

class JobTiming {
 public:
  // One job of `bytes` payload bytes (0 when it names none) that waited `waitUs` for its inputs and ran `runUs`.
  void add(uint64_t bytes, double waitUs, double runUs);
  // One line per size class that had jobs, smallest first, e.g. "[2 KiB, 4 KiB): 12 jobs; inputs landed after
  // 31.0 us on average (at most 40.2), ran 4.1 us (at most 6.0)". Empty when no job was added.
  std::vector<std::string> lines() const;

 private:
  struct Class {
    uint64_t jobs = 0;
    double waitUs = 0, runUs = 0, maxWaitUs = 0, maxRunUs = 0;
  };
  // Class k holds the sizes of [2^(k-1), 2^k) bytes; class 0 the jobs of 0 bytes.
  std::array<Class, 65> classes_{};
};

}  // namespace mixccl

#pragma once
// The in-memory exchange of the plan simulator: a Transport per rank over FIFOs that live in one process.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "transports/transport.h"

namespace mixccl {

// Channels per peer pair, as the real transports offer (0 collectives, 1 point-to-point, 2 the second tree).
constexpr int kSimChannels = 3;

// One directed FIFO (src -> dst, lane) of `slots` slots.
struct SimFifo {
  std::vector<std::vector<char>> slots;
  std::vector<size_t> sizes;
  uint64_t head = 0;  // messages posted
  uint64_t tail = 0;  // messages released
};

class SimFabric {
 public:
  SimFabric(int nranks, size_t slotBytes, int slots);
  SimFifo& fifo(int src, int dst, int lane);
  // Messages posted but not released, over all FIFOs; *where names one of them ("3 -> 4 lane 0").
  uint64_t pending(std::string* where) const;
  Transport* transport(int rank) { return transports_[rank].get(); }
  size_t slotBytes() const { return slotBytes_; }
  int slots() const { return slots_; }
  uint64_t messages = 0;
  uint64_t bytes = 0;

 private:
  int nranks_;
  size_t slotBytes_;
  int slots_;
  std::unordered_map<uint64_t, SimFifo> fifos_;
  std::vector<std::unique_ptr<Transport>> transports_;
};

}  // namespace mixccl

#include "engine/sim_fabric.h"

#include <string>

namespace mixccl {
namespace {

class SimSend final : public SendChannel {
 public:
  SimSend(SimFabric& fabric, SimFifo& fifo) : fabric_(fabric), fifo_(fifo) {}
  void* acquire() override {
    if (fifo_.head - fifo_.tail >= fifo_.slots.size()) return nullptr;
    std::vector<char>& slot = fifo_.slots[fifo_.head % fifo_.slots.size()];
    if (slot.empty()) slot.resize(fabric_.slotBytes());
    return slot.data();
  }
  void post(size_t bytes) override {
    fifo_.sizes[fifo_.head % fifo_.slots.size()] = bytes;
    ++fifo_.head;
    ++fabric_.messages;
    fabric_.bytes += bytes;
  }

 private:
  SimFabric& fabric_;
  SimFifo& fifo_;
};

class SimRecv final : public RecvChannel {
 public:
  explicit SimRecv(SimFifo& fifo) : fifo_(fifo) {}
  const void* peek(size_t* bytes) override {
    if (fifo_.tail == fifo_.head) return nullptr;
    size_t i = fifo_.tail % fifo_.slots.size();
    *bytes = fifo_.sizes[i];
    return fifo_.slots[i].data();
  }
  void release() override { ++fifo_.tail; }

 private:
  SimFifo& fifo_;
};

class SimTransport final : public Transport {
 public:
  SimTransport(SimFabric& fabric, int rank, int nranks) : fabric_(fabric), rank_(rank), nranks_(nranks) {
    caps_.slotBytes = fabric.slotBytes();
    caps_.slotsPerChannel = fabric.slots();
    caps_.maxLanes = kSimChannels;
  }
  const char* name() const override { return "sim"; }
  const TransportCaps& caps() const override { return caps_; }
  bool reaches(int peer) const override { return peer != rank_ && peer >= 0 && peer < nranks_; }
  std::vector<HostRange> slotMemory() const override { return {}; }  // messages are allocated one by one
  SendChannel* sendChannel(int peer, int lane) override {
    if (lane < 0 || lane >= caps_.maxLanes) return nullptr;
    auto& ch = sends_[key(peer, lane)];
    if (!ch) ch = std::make_unique<SimSend>(fabric_, fabric_.fifo(rank_, peer, lane));
    return ch.get();
  }
  RecvChannel* recvChannel(int peer, int lane) override {
    if (lane < 0 || lane >= caps_.maxLanes) return nullptr;
    auto& ch = recvs_[key(peer, lane)];
    if (!ch) ch = std::make_unique<SimRecv>(fabric_.fifo(peer, rank_, lane));
    return ch.get();
  }
  uint32_t eventToken() override { return 0; }
  void waitForEvent(uint32_t, uint64_t) override {}
  Result checkPeer(int, std::string*) override { return mixcclSuccess; }
  void notifyAbort(int) override {}
  int abortNotice() override { return -1; }

 private:
  static uint64_t key(int peer, int lane) { return (static_cast<uint64_t>(lane) << 32) | static_cast<uint32_t>(peer); }
  SimFabric& fabric_;
  int rank_;
  int nranks_;
  TransportCaps caps_;
  std::unordered_map<uint64_t, std::unique_ptr<SimSend>> sends_;
  std::unordered_map<uint64_t, std::unique_ptr<SimRecv>> recvs_;
};

}  // namespace

SimFabric::SimFabric(int nranks, size_t slotBytes, int slots) : nranks_(nranks), slotBytes_(slotBytes), slots_(slots) {
  for (int r = 0; r < nranks; ++r) transports_.push_back(std::make_unique<SimTransport>(*this, r, nranks));
}

SimFifo& SimFabric::fifo(int src, int dst, int lane) {
  uint64_t key = (static_cast<uint64_t>(lane) * nranks_ + src) * nranks_ + dst;
  SimFifo& f = fifos_[key];
  if (f.slots.empty()) {
    f.slots.resize(slots_);
    f.sizes.resize(slots_);
  }
  return f;
}

uint64_t SimFabric::pending(std::string* where) const {
  uint64_t total = 0;
  for (const auto& [key, f] : fifos_) {
    if (f.head == f.tail) continue;
    if (total == 0 && where != nullptr) {
      uint64_t dst = key % nranks_, src = (key / nranks_) % nranks_, lane = key / nranks_ / nranks_;
      *where = std::to_string(src) + " -> " + std::to_string(dst) + " lane " + std::to_string(lane);
    }
    total += f.head - f.tail;
  }
  return total;
}

}  // namespace mixccl

// SharedReduce::hostOp (core/shared_reduce.h): a collective of host buffers through the shared segment, run as an
// OpRunner that a wait loop drives beside a job's other ops.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/shared_reduce.h"
#include "core/shared_shape.h"

namespace mixccl {
namespace {

// SharedReduce::hostOp's runner: the steps of each piece in turn, with the host's copies in and out.
class SharedHostOp final : public OpRunner {
 public:
  SharedHostOp(SharedReduce& sr, const CollArgs& args, const void* send, void* recv, uint64_t first)
      : sr_(sr),
        shape_(sr.shape(args)),
        send_(static_cast<const char*>(send)),
        recv_(static_cast<char*>(recv)),
        first_(first),
        pieces_(shape_.pieces()) {}
  ~SharedHostOp() override {
    if (!done()) sr_.fail();  // the others would wait for this rank's pieces
  }

  Result advance(bool* progressed) override {
    *progressed = false;
    while (i_ < pieces_) {
      const uint64_t k = first_ + i_;
      if (sr_.failed()) return sr_.failedError(k);
      if (stage_ == Stage::kIn) {
        behind_ = -1;
        if (!sr_.slotDrained(k)) return mixcclSuccess;  // this rank's stream still copies piece k - 2 out
        shape_.forEachIn(i_, [&](const SharedCopy& c) { memcpy(sr_.input(k) + c.region, send_ + c.user, c.bytes); });
        sr_.land(k);
        stage_ = Stage::kLanded;
        *progressed = true;
      }
      if (stage_ == Stage::kLanded) {
        behind_ = sr_.firstBehind(false, k);
        if (behind_ >= 0) return mixcclSuccess;
        sr_.work(k, shape_, i_);
        sr_.markReduced(k);
        stage_ = Stage::kReduced;
        *progressed = true;
      }
      behind_ = sr_.firstBehind(true, k);
      if (behind_ >= 0) return mixcclSuccess;
      shape_.forEachOut(i_, [&](const SharedCopy& c) { memcpy(recv_ + c.user, sr_.output(k) + c.region, c.bytes); });
      sr_.copiedOut(k);
      stage_ = Stage::kIn;
      ++i_;
      *progressed = true;
    }
    return mixcclSuccess;
  }
  bool done() const override { return i_ == pieces_; }
  bool deviceBusy() const override { return !done(); }  // shared-memory words: no transport event announces them
  void blockedPeers(std::vector<int>* peers) const override {
    if (!done() && behind_ >= 0) peers->push_back(behind_);
  }
  std::string waitingFor() const override {
    char buf[160];
    const unsigned long long k = first_ + i_;
    if (stage_ == Stage::kIn) {
      snprintf(buf, sizeof(buf),
               "shared-segment piece %llu waits for this rank's stream to copy piece %llu out "
               "of its slot",
               k, k - SharedReduce::kSlots);
    } else {
      snprintf(buf, sizeof(buf), "shared-segment piece %llu waits for rank %d's %s", k, behind_,
               stage_ == Stage::kLanded ? "input" : "part of the result");
    }
    return buf;
  }

 private:
  enum class Stage { kIn, kLanded, kReduced };
  SharedReduce& sr_;
  const SharedShape shape_;
  const char* send_;
  char* recv_;
  const uint64_t first_;
  const uint64_t pieces_;
  uint64_t i_ = 0;  // the piece under way
  Stage stage_ = Stage::kIn;
  int behind_ = -1;  // the rank it waits for
};

}  // namespace

std::unique_ptr<OpRunner> SharedReduce::hostOp(const CollArgs& args, const void* send, void* recv, uint64_t first) {
  return std::make_unique<SharedHostOp>(*this, args, send, recv, first);
}

}  // namespace mixccl

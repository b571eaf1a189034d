// Dependencies are found with an interval map per memory (send/recv aliased, scratch) that remembers, for every
// run of elements, the last step that wrote it and the last step of each lane that read it since.
#include "engine/lane_split.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <limits>
#include <map>

namespace mixccl {
namespace {

constexpr size_t kMaxLanes = 16;

struct Run {
  uint64_t end = std::numeric_limits<uint64_t>::max();
  int64_t writer = -1;  // new index of the last step that wrote the run
  std::array<int64_t, kMaxLanes> readers;  // per lane: new index of the last step that read it since (-1: none)
  Run() { readers.fill(-1); }
};

class Memory {
 public:
  Memory() { runs_[0] = Run(); }

  // Calls f(run) for every run inside [begin, end), splitting the runs at both ends first.
  template <typename F>
  void forRange(uint64_t begin, uint64_t end, F f) {
    split(begin);
    split(end);
    for (auto it = runs_.find(begin); it != runs_.end() && it->first < end; ++it) f(it->second);
  }

 private:
  void split(uint64_t at) {
    auto it = std::prev(runs_.upper_bound(at));
    if (it->first == at || it->second.end <= at) return;
    Run tail = it->second;
    it->second.end = at;
    runs_.emplace(at, std::move(tail));
  }
  std::map<uint64_t, Run> runs_;
};

}  // namespace

Plan splitLanes(Plan sequential, const std::vector<uint8_t>& laneOf) {
  const size_t n = sequential.steps.size();
  std::vector<uint32_t> perTag(256, 0);
  for (uint8_t t : laneOf) ++perTag[t];
  std::vector<int> laneOfTag(256, -1);
  Plan out;
  out.scratchElements = sequential.scratchElements;
  out.laneBegin.clear();
  uint32_t at = 0;
  for (int t = 0; t < 256; ++t) {
    if (perTag[t] == 0) continue;
    laneOfTag[t] = static_cast<int>(out.laneBegin.size());
    out.laneBegin.push_back(at);
    at += perTag[t];
  }
  out.laneBegin.push_back(at);
  const size_t lanes = out.numLanes();
  if (lanes <= 1 || lanes > kMaxLanes) {
    // Nothing to overlap, or more lanes than tracked: the sequential plan, as one lane.
    sequential.laneBegin = {0};
    sequential.endLane();  // no lane at all when there is no step
    sequential.waits.clear();
    return sequential;
  }
  std::vector<uint32_t> fill(out.laneBegin.begin(), out.laneBegin.end() - 1);
  out.steps.resize(n);

  Memory mem[2];
  auto memOf = [&](const Slice& s) -> Memory& { return mem[s.buf == BufKind::kScratch ? 1 : 0]; };
  std::vector<int64_t> need(lanes);
  std::vector<int64_t> waited(lanes * lanes, -1);  // [l * lanes + m]: latest step of lane m lane l waited for
  for (size_t i = 0; i < n; ++i) {
    const Step& s = sequential.steps[i];
    const size_t lane = static_cast<size_t>(laneOfTag[laneOf[i]]);
    const uint32_t ni = fill[lane]++;
    out.steps[ni] = s;
    std::fill(need.begin(), need.end(), -1);
    auto depend = [&](int64_t idx) {
      if (idx < 0) return;
      const size_t l = out.laneOf(static_cast<uint32_t>(idx));
      if (l != lane) need[l] = std::max(need[l], idx);
    };
    const Slice* reads[2] = {&s.src, &s.src2};
    for (const Slice* r : reads) {
      if (r->valid()) memOf(*r).forRange(r->offset, r->offset + s.count, [&](Run& g) { depend(g.writer); });
    }
    if (s.dst.valid()) {
      memOf(s.dst).forRange(s.dst.offset, s.dst.offset + s.count, [&](Run& g) {
        depend(g.writer);
        for (size_t l = 0; l < lanes; ++l) depend(g.readers[l]);
      });
    }
    for (size_t m = 0; m < lanes; ++m) {
      if (need[m] > waited[lane * lanes + m]) {
        out.waits.push_back({ni, static_cast<uint32_t>(m), static_cast<uint32_t>(need[m])});
        waited[lane * lanes + m] = need[m];
      }
    }
    for (const Slice* r : reads) {
      if (r->valid()) memOf(*r).forRange(r->offset, r->offset + s.count, [&](Run& g) { g.readers[lane] = ni; });
    }
    if (s.dst.valid()) {
      memOf(s.dst).forRange(s.dst.offset, s.dst.offset + s.count, [&](Run& g) {
        g.writer = ni;
        g.readers.fill(-1);
      });
    }
  }
  std::stable_sort(out.waits.begin(), out.waits.end(),
                   [](const LaneWait& a, const LaneWait& b) { return a.step < b.step; });
  return out;
}

}  // namespace mixccl

#include "engine/plan.h"

#include <algorithm>
#include <sstream>

namespace mixccl {

Step& Plan::emit(int recvPeer, int sendPeer, Slice src, Slice dst, uint64_t count, bool final, uint8_t channel) {
  Step s;
  s.recvPeer = recvPeer;
  s.sendPeer = sendPeer;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.flags = final ? Step::kFinal : Step::kNone;
  s.channel = channel;
  steps.push_back(s);
  return steps.back();
}
namespace {

const char* bufName(BufKind kind) {
  switch (kind) {
    case BufKind::kSend: return "send";
    case BufKind::kRecv: return "recv";
    case BufKind::kScratch: return "scratch";
    default: return "none";
  }
}

uint64_t bufLimit(BufKind kind, uint64_t sendElems, uint64_t recvElems, uint64_t scratchElems) {
  switch (kind) {
    case BufKind::kSend: return sendElems;
    case BufKind::kRecv: return recvElems;
    case BufKind::kScratch: return scratchElems;
    default: return 0;
  }
}

}  // namespace

void Plan::endLane() {
  if (steps.size() != laneBegin.back()) laneBegin.push_back(static_cast<uint32_t>(steps.size()));
}

size_t Plan::laneOf(uint32_t step) const {
  return static_cast<size_t>(std::upper_bound(laneBegin.begin(), laneBegin.end(), step) - laneBegin.begin()) - 1;
}

std::string Plan::describe() const {
  std::ostringstream out;
  size_t w = 0;
  for (size_t lane = 0; lane < numLanes(); ++lane) {
    for (uint32_t i = laneBegin[lane]; i < laneBegin[lane + 1]; ++i) {
      const Step& s = steps[i];
      out << "lane " << lane << " step " << (i - laneBegin[lane]) << ":";
      for (; w < waits.size() && waits[w].step == i; ++w) {
        out << " [after lane " << waits[w].lane << " step " << (waits[w].after - laneBegin[waits[w].lane]) << "]";
      }
      const char* sep = " ";
      if (s.hasRecv()) {
        out << sep << "recv " << s.recvPeer;
        sep = s.reduces() ? " (op) " : " + ";
      }
      if (s.src2.valid()) {
        out << sep << bufName(s.src2.buf) << "[" << s.src2.offset << "]";
        sep = s.reduces() ? " (op) " : " + ";
      }
      if (s.src.valid()) out << sep << bufName(s.src.buf) << "[" << s.src.offset << "]";
      out << " ->";
      if (s.dst.valid()) out << " " << bufName(s.dst.buf) << "[" << s.dst.offset << "]";
      if (s.hasSend()) out << " send " << s.sendPeer;
      out << " (" << s.count << " elems" << ((s.flags & Step::kFinal) ? ", final" : "");
      if (s.channel != 0) out << ", channel " << static_cast<int>(s.channel);
      out << ")\n";
    }
  }
  return out.str();
}

std::string validatePlan(const Plan& plan, int rank, int nranks, uint64_t sendElems, uint64_t recvElems) {
  if (plan.laneBegin.empty() || plan.laneBegin.front() != 0 || plan.laneBegin.back() != plan.steps.size())
    return "lanes do not cover the steps";
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    auto where = [i] { return "step " + std::to_string(i) + ": "; };
    if (s.count == 0) return where() + "count is 0";
    if (!s.hasRecv() && !s.src.valid() && !s.src2.valid()) return where() + "no input";
    if (!s.hasSend() && !s.dst.valid()) return where() + "no output";
    if (s.src2.valid() && s.hasRecv()) return where() + "src2 together with a receive";
    if (s.src2.valid() && !s.src.valid()) return where() + "src2 without src";
    for (int peer : {s.recvPeer, s.sendPeer}) {
      if (peer != -1 && (peer < 0 || peer >= nranks || peer == rank)) return where() + "bad peer " + std::to_string(peer);
    }
    for (const Slice* sl : {&s.src, &s.src2, &s.dst}) {
      if (!sl->valid()) continue;
      uint64_t limit = bufLimit(sl->buf, sendElems, recvElems, plan.scratchElements);
      if (sl->offset > limit || s.count > limit - sl->offset)
        return where() + bufName(sl->buf) + " slice [" + std::to_string(sl->offset) + ", +" +
               std::to_string(s.count) + ") outside " + std::to_string(limit) + " elements";
    }
    if (s.dst.valid() && s.dst.buf == BufKind::kSend) return where() + "writes the send buffer";
  }
  for (size_t i = 0; i < plan.waits.size(); ++i) {
    const LaneWait& w = plan.waits[i];
    const std::string where = "wait " + std::to_string(i) + ": ";
    if (w.step >= plan.steps.size() || w.lane >= plan.numLanes()) return where + "names no step or lane";
    if (i > 0 && plan.waits[i - 1].step > w.step) return where + "waits not sorted by step";
    if (w.after < plan.laneBegin[w.lane] || w.after >= plan.laneBegin[w.lane + 1])
      return where + "step " + std::to_string(w.after) + " is not in lane " + std::to_string(w.lane);
    if (plan.laneOf(w.step) == w.lane) return where + "waits for its own lane";
  }
  return "";
}

}  // namespace mixccl

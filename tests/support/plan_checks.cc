#include "support/plan_checks.h"

#include <vector>

namespace mixccl {

std::string laneOwnershipProblem(const Plan& plan, int nranks, int channels) {
  std::vector<int> owner(2 * static_cast<size_t>(nranks) * channels, -1);  // [(direction, peer, channel)] = lane
  for (size_t lane = 0; lane < plan.numLanes(); ++lane) {
    for (uint32_t i = plan.laneBegin[lane]; i < plan.laneBegin[lane + 1]; ++i) {
      const Step& s = plan.steps[i];
      if (s.channel >= channels) return "step " + std::to_string(i) + " uses channel " + std::to_string(s.channel);
      for (int dir = 0; dir < 2; ++dir) {
        const int peer = dir == 0 ? s.sendPeer : s.recvPeer;
        if (peer < 0) continue;
        int& o = owner[(static_cast<size_t>(dir) * nranks + peer) * channels + s.channel];
        if (o != -1 && o != static_cast<int>(lane)) {
          return std::string(dir == 0 ? "sends to " : "receives from ") + std::to_string(peer) + " on channel " +
                 std::to_string(s.channel) + " in lanes " + std::to_string(o) + " and " + std::to_string(lane);
        }
        o = static_cast<int>(lane);
      }
    }
  }
  return "";
}

}  // namespace mixccl

#include "core/shared_gpu.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <set>

#include "core/log.h"

namespace mixccl {
namespace {

bool mpsSeen() {
  const char* pipe = std::getenv("CUDA_MPS_PIPE_DIRECTORY");
  struct stat st;
  return (pipe != nullptr && pipe[0] != '\0') || stat("/tmp/nvidia-mps", &st) == 0;
}

// The ranks on the host of `rank` that use its GPU (rank order; none when it uses none), and their processes.
std::vector<int> ranksOnMyGpu(const std::vector<PeerInfo>& peers, int rank, std::set<int>* pids) {
  const PeerInfo& me = peers[size_t(rank)];
  std::vector<int> sharing;
  if (me.gpuBus[0] == '\0') return sharing;
  for (size_t r = 0; r < peers.size(); ++r) {
    const PeerInfo& p = peers[r];
    if (p.hostHash == me.hostHash && std::strncmp(p.gpuBus, me.gpuBus, sizeof(p.gpuBus)) == 0) {
      sharing.push_back(int(r));
      pids->insert(p.pid);
    }
  }
  return sharing;
}

}  // namespace

bool gpuTimeSliced(const std::vector<PeerInfo>& peers, int rank) {
  std::set<int> pids;
  ranksOnMyGpu(peers, rank, &pids);
  return pids.size() >= 2 && !mpsSeen();
}

std::string noteSharedGpus(const std::vector<PeerInfo>& peers, int rank) {
  const PeerInfo& me = peers[size_t(rank)];
  std::set<int> pids;
  const std::vector<int> sharing = ranksOnMyGpu(peers, rank, &pids);
  if (pids.size() < 2 || sharing.front() != rank || mpsSeen()) return "";
  std::string ranks;
  for (int r : sharing) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  char msg[640];
  std::snprintf(msg, sizeof(msg),
                "ranks %s are %zu processes on one GPU (%.*s) and no MPS daemon was found: the GPU runs one process's "
                "work at a time, so every hand-off between them waits for a context switch (0.1-0.2 ms per rank "
                "on an H200). Faster: the ranks as threads of one process (one communicator per thread, or "
                "mixcclCommInitAll), or MPS (nvidia-cuda-mps-control -d)",
                ranks.c_str(), pids.size(), int(sizeof(me.gpuBus)), me.gpuBus);
  MIXCCL_LOG(kWarn, "%s", msg);
  return msg;
}

}  // namespace mixccl

#pragma once
// Separate processes on one GPU. Without MPS the GPU runs one process's work at a time, so every hand-off between
// such ranks waits for a context switch (on an H200, 0.1-0.2 ms per rank and all-reduce: perf/RESULTS.md, "GPU
// ranks on one GPU"). mixccl runs them anyway (NCCL refuses); this says so once per communicator, with the remedies.
#include <string>
#include <vector>

#include "core/communicator.h"

namespace mixccl {

// When ranks of different processes on one host use one GPU (equal PeerInfo::gpuBus) and no MPS daemon is seen
// (CUDA_MPS_PIPE_DIRECTORY unset and no /tmp/nvidia-mps), the lowest such rank logs one warning naming them. Returns
// the warning on that rank, "" everywhere else.
std::string noteSharedGpus(const std::vector<PeerInfo>& peers, int rank);

// Whether the GPU of `rank` time-slices between processes of the communicator: another process on its host uses the
// same GPU and no MPS daemon is seen (the condition of the warning above, from that rank's side).
bool gpuTimeSliced(const std::vector<PeerInfo>& peers, int rank);

}  // namespace mixccl

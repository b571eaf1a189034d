// The one place where MIXCCL_* variables are declared.
#include "core/config.h"

namespace mixccl {
namespace cfg {

const ConfigVar kDebug{"MIXCCL_DEBUG", ConfigType::kString, "WARN",
                       "log level on stderr: NONE, WARN, INFO or TRACE"};
const ConfigVar kTimeout{"MIXCCL_TIMEOUT", ConfigType::kDouble, "300",
                         "seconds any wait (bootstrap, peer data, free slot) may last before it fails"};
const ConfigVar kRootAddr{"MIXCCL_ROOT_ADDR", ConfigType::kString, "",
                          "host:port where rank 0 serves the rendezvous for mixcclCommInitFromEnv"};
const ConfigVar kSocketIfname{"MIXCCL_SOCKET_IFNAME", ConfigType::kString, "",
                              "network interface (prefix) for bootstrap sockets; default: first non-loopback"
                              " interface that is up, else lo"};
const ConfigVar kHostname{"MIXCCL_HOSTNAME", ConfigType::kString, "",
                          "overrides this process's host identity (ranks with equal identity use shared memory)"};
const ConfigVar kSecret{"MIXCCL_SECRET", ConfigType::kString, "",
                        "job secret for mixcclCommInitFromEnv; default: derived from the launcher's job id"};
const ConfigVar kAlgo{"MIXCCL_ALGO", ConfigType::kString, "",
                      "force an algorithm, globally (ring) or per collective (allreduce=ring,allgather=ring)"};
const ConfigVar kChunkBytes{"MIXCCL_CHUNK_BYTES", ConfigType::kBytes, "128K",
                            "pipeline chunk: the largest piece one plan step moves (capped by the transport)"};
const ConfigVar kShmSlotBytes{"MIXCCL_SHM_SLOT_BYTES", ConfigType::kBytes, "128K",
                              "bytes per slot of a shared-memory FIFO between two ranks"};
const ConfigVar kShmSlots{"MIXCCL_SHM_SLOTS", ConfigType::kInt, "8",
                          "slots per shared-memory FIFO (chunks in flight per peer)"};
const ConfigVar kNetSlotBytes{"MIXCCL_NET_SLOT_BYTES", ConfigType::kBytes, "512K",
                              "bytes per staging slot of a network transport (ucx, ofi; capped by the provider's "
                              "largest message); must be equal on every rank"};
const ConfigVar kNetSlots{"MIXCCL_NET_SLOTS", ConfigType::kInt, "4",
                          "staging slots per network channel (messages in flight per peer, lane and direction; "
                          ">= 2)"};
const ConfigVar kTransports{"MIXCCL_TRANSPORTS", ConfigType::kString, "auto",
                            "transports that may be used, comma list of shm, ucx, ofi (auto: shm within a host, "
                            "then ucx, then ofi); e.g. ucx forces even same-host ranks through UCX"};
const ConfigVar kOfiProvider{"MIXCCL_OFI_PROVIDER", ConfigType::kString, "",
                             "libfabric provider (e.g. tcp, shm, verbs, efa); default: a hardware provider if one "
                             "is present, else tcp"};
const ConfigVar kTopoFile{"MIXCCL_TOPO_FILE", ConfigType::kString, "",
                          "hwloc XML file (lstopo --of xml) used as this node's topology instead of discovering it"};
const ConfigVar kSpinUs{"MIXCCL_SPIN_US", ConfigType::kInt, "50",
                        "microseconds a waiting rank polls before it sleeps on a futex"};
const ConfigVar kSite{"MIXCCL_SITE", ConfigType::kString, "",
                      "site label of this rank (provider, region, data centre); without labels on any rank, "
                      "sites are found by the latency between hosts measured at init"};
const ConfigVar kLinkCosts{"MIXCCL_LINK_COSTS", ConfigType::kString, "",
                           "cost model of link classes, e.g. cross-site=5ms/1.25GB/s,same-site=15us/12.5GB/s "
                           "(same-device, same-host, same-site, cross-site); must be equal on every rank"};

const ConfigVar kStreamWait{"MIXCCL_STREAM_WAIT", ConfigType::kString, "auto",
                            "how a GPU stream waits for the host side of a staged call: memop (a stream memory "
                            "operation), kernel (a one-thread polling kernel), auto (memop where the driver has it)"};

const ConfigVar kGpuIpc{"MIXCCL_GPU_IPC", ConfigType::kString, "auto",
                        "1: ranks of one host with GPUs of one vendor run all-reduce, all-gather, reduce-scatter, "
                        "broadcast and reduce through mapped device memory (transports/gpu_ipc); 0: through host "
                        "staging; auto: 1 where every rank is a thread of one process and their streams fit its "
                        "GPU context's queues with one to spare (2 per rank + 1 <= CUDA_DEVICE_MAX_CONNECTIONS, 8 "
                        "unless set: 3 ranks), else 0. Must resolve alike on every rank"};
const ConfigVar kGpuIpcChunkBytes{"MIXCCL_GPU_IPC_CHUNK_BYTES", ConfigType::kBytes, "4M",
                                  "gpu_ipc: bytes of one round (each rank holds 4 such slots of device memory; "
                                  "all-reduces between threads of one process on device buffers take rounds of up to "
                                  "256 MiB); 1M..1G, a multiple of 4K. Must be equal on every rank"};

const ConfigVar kGpuIpcFused{"MIXCCL_GPU_IPC_FUSED", ConfigType::kString, "auto",
                             "1: gpu_ipc all-reduces between ranks that are threads of one process run as one "
                             "kernel per rank and round that waits for the others inside the GPU (one launch, no "
                             "stream wait; one block up to 16 KiB, a shard per rank above), where their streams fit "
                             "the GPU context's queues (else a warning); auto: the same without the warning; 0: "
                             "copies, stream waits and reduce kernels. Must be equal on every rank"};

const ConfigVar kStagingMaxBytes{"MIXCCL_STAGING_MAX_BYTES", ConfigType::kBytes, "2G",
                                 "pinned host memory a communicator's staged calls hold at once (cached buffers "
                                 "aside); past it a call waits (up to 5 s) for earlier calls to release theirs, then "
                                 "allocates more. Nothing is freed while the communicator lives"};

const ConfigVar kDeviceSteps{"MIXCCL_DEVICE_STEPS", ConfigType::kString, "0",
                             "how a staged call on GPU buffers reduces: 0 on the CPU, after copying its buffers to "
                             "host memory; 1 on its GPU, chunk by chunk, straight out of and into the transports' "
                             "slots, by a kernel on the call's stream that runs the steps the proxy queues "
                             "(core/device_steps.h); auto: 1 where some peer is on another host and no other "
                             "process shares the rank's GPU without MPS"};

const ConfigVar kStagedPieceBytes{"MIXCCL_STAGED_PIECE_BYTES", ConfigType::kBytes, "0",
                                  "cut all-reduces, broadcasts and reduces larger than this into pieces of this "
                                  "size, so that staged GPU calls pipeline their copies (core/pieces.h); 0: never. "
                                  "Must be equal on every rank (checked at init)"};

const ConfigVar kSharedReduce{"MIXCCL_SHARED_REDUCE", ConfigType::kString, "auto",
                              "1: where all ranks (processes or threads, with a GPU or without) are on one host and "
                              "gpu_ipc is off, all-reduces, reduce-scatters, all-gathers, broadcasts and reduces "
                              "meet in one shared host-memory segment: each rank's stream copies its input there, its "
                              "proxy reduces (or copies) its share of all inputs, and the stream copies its result "
                              "back (a rank without a GPU: all on the calling thread; core/shared_reduce.h); 0: the "
                              "host engine's algorithms; auto: as 1 where every rank also has a GPU its process has "
                              "used, falling back to 0 (said at INFO) where /dev/shm is too small or the segment "
                              "cannot be set up. Must be equal on every rank"};

const ConfigVar kSharedReduceSlotBytes{"MIXCCL_SHARED_REDUCE_SLOT_BYTES", ConfigType::kBytes, "4M",
                                       "the piece a MIXCCL_SHARED_REDUCE collective moves at a time (each rank "
                                       "has two input slots of this size, and the ranks two output slots; an "
                                       "all-gather's or reduce-scatter's piece holds a block per rank): a "
                                       "multiple of 4096 from 64K to 1G, equal on every rank"};

}  // namespace cfg

const std::vector<const ConfigVar*>& configRegistry() {
  static const std::vector<const ConfigVar*> all = {
      &cfg::kDebug,      &cfg::kTimeout,      &cfg::kRootAddr, &cfg::kSocketIfname,
      &cfg::kHostname,   &cfg::kSecret,       &cfg::kAlgo,     &cfg::kChunkBytes,
      &cfg::kShmSlotBytes, &cfg::kShmSlots,   &cfg::kNetSlotBytes, &cfg::kNetSlots,
      &cfg::kSpinUs,     &cfg::kTransports,
      &cfg::kOfiProvider, &cfg::kTopoFile,    &cfg::kSite,     &cfg::kLinkCosts,
      &cfg::kStreamWait, &cfg::kGpuIpc, &cfg::kGpuIpcChunkBytes, &cfg::kGpuIpcFused, &cfg::kStagingMaxBytes,
      &cfg::kDeviceSteps, &cfg::kStagedPieceBytes, &cfg::kSharedReduce, &cfg::kSharedReduceSlotBytes,
  };
  return all;
}

}  // namespace mixccl

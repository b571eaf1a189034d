#pragma once
// gpu_ipc: the ranks of one host whose GPUs are of one vendor map each other's device memory (CUDA/HIP IPC) and
// run all-reduce, all-gather, reduce-scatter, broadcast and reduce on their own streams, with no host thread and
// no network in the loop (issue 5). Enabled by MIXCCL_GPU_IPC=1, or by its default `auto` where every rank is a thread
// of one process and their streams fit the context's queues (resolved alike on every rank); point-to-point calls,
// pre-mul-sum reductions, and every call of a communicator that cannot use IPC, take the host-staged path
// (core/device_launch.h).
//
// Every rank owns a workspace of device memory: a page of flag words, then two sets (parities) of an input slot
// and a result slot of chunk bytes each (MIXCCL_GPU_IPC_CHUNK_BYTES, default kDefaultChunkBytes); it maps every
// other rank's workspace. An all-reduce moves in chunks of at most that many bytes; each chunk is one round `seq`
// (counted per communicator, the same on every rank), whose parity p = seq % 2 picks the slot set, so round seq + 1
// may start while peers still read round seq. On each rank's stream, a round is:
//   copy my input chunk -> in_me[p];                  write arrive_me[p] = seq
//   wait arrive_r[p] >= seq for every peer r
//   result_me[p][my shard] = in_0[p] op in_1[p] op ... op in_{n-1}[p]   (rank order: the same bits everywhere)
//   write done_me[p] = seq;                           wait done_r[p] >= seq for every peer r
//   copy result_r[p][shard r] -> output[shard r] for every r;   write gathered_me[p] = seq
// That is the bandwidth-optimal round (every rank reads 1/n of the inputs and copies its share of the results).
// An all-reduce of at most kOneShotBytes is one ONE-SHOT round instead, which saves the done wait and the copies:
//   copy my input -> in_me[p];  write arrive_me[p] = seq;  wait arrive_r[p] >= seq for every peer r
//   output = in_0[p] op in_1[p] op ... op in_{n-1}[p]   (every element, on every rank, in rank order; for host
//                                                         buffers into result_me[p], then copied out);
//   write gathered_me[p] = seq
// Which round runs depends only on the byte count, so every rank takes the same one.
// FUSED rounds (MIXCCL_GPU_IPC_FUSED=1, every rank in this one process): an all-reduce round in ONE kernel per rank,
// which waits for the other ranks inside the GPU, so a round costs one launch and no stream wait (kernels/
// fused_args.h). Up to kFusedOneShotBytes, the one-shot round above (kernels/one_shot_kernel.h: copies, writes its
// arrival, waits for everyone's and reduces, in one block); above, the direct round below (kernels/
// fused_direct_kernel.h: writes its addresses and arrival, waits for everyone's, reduces its shard into every output,
// writes its done and waits for everyone's; the ranks' blocks in all leave a multiprocessor free). The ranks'
// kernels must run at once, as kernels of one context on one GPU can, and no rank's kernel may queue behind
// another's on a hardware queue, so they are used only where the ranks' streams fit the context's queues (as
// MIXCCL_GPU_IPC=auto requires; otherwise a warning says they are not used).
// The other collectives have one kind of round each (gpu_ipc_rounds.cc), every one of them "copy my inputs of the
// round into in_me[p]; write arrive_me[p] = seq; wait arrive_r[p] >= seq for every peer r; ...; write
// gathered_me[p] = seq", with in between:
//   all-gather      copy in_r[p] -> my output block r, for every r
//   reduce-scatter  (my inputs: the round's elements of each rank's block, block b at b*n in my slot)
//                   output = in_0[p][block me] op ... op in_{n-1}[p][block me]
//   broadcast       (only the root copies inputs) copy in_root[p] -> output
//   reduce          (the root only) output = in_0[p] op ... op in_{n-1}[p]
// Every rank writes and waits for every arrival, also where it has nothing to send (broadcast), so the reuse rule
// below holds for every round.
// DIRECT all-reduce (every rank in this one process, more than kOneShotBytes; fused: kFusedOneShotBytes): pointers
// are valid across ranks, so device buffers need no slot and no copy (a rank's host buffers go through its own
// slots). Each round:
//   write addr_me[p] = (send, recv);  write arrive_me[p] = seq;  wait arrive_r[p] >= seq for every peer r
//   for my shard: every rank's recv = send_0 op ... op send_{n-1}   (one kernel; shards never overlap)
//   write done_me[p] = seq;  wait done_r[p] >= seq for every peer r  (every rank's output is complete);
//   write gathered_me[p] = seq
// Each rank reads its shard of every input once and writes it to every output once: the HBM floor's bytes.
// Device buffers need no slot here, so a direct round is not bound to the slot size: it covers up to
// directRoundBytes() (kDirectRoundBytes, or the slot size if larger; a round's fixed cost, about 55 us of stream
// hand-offs on an H200, then counts once per 256 MiB rather than once per 4 MiB). A rank's host buffers in a round
// larger than its slots go through a stage of device memory allocated for them at first use, as big as the largest
// such round needs (a power-of-two multiple of the slot, four of them: input and result, two parities, the slots'
// reuse rule); a stage that a larger one replaces stays allocated until teardown, since rounds in flight may use it.
// addr_me[p] is rewritten two rounds later, by when every peer has passed its done wait of this round.
// Reusing the slots of parity p in round seq needs no wait of its own: a peer writes arrive (seq - 1) only after
// it gathered round seq - 2, and this stream waited for that arrival one round earlier. Peers' `gathered` is waited
// for only at teardown, before the workspace is freed; a rank's teardown, once its own rounds are done, sets its own
// far ahead (it reads nobody's workspace any more), so that no peer waits there for rounds it will never run.
// Outside fused rounds, every wait is a stream wait (GpuBackend::streamWaitFlag), never a kernel waiting for another
// rank's kernel, so several ranks on ONE GPU work even when their processes' kernels never run at the same time, and
// one rank per GPU works where the GPUs can map each other's memory. Each element is reduced by one rank (its
// shard's owner).
//
// Host buffers: a kernel reaches device memory only, so a rank's host buffers are copied to and from its slots. In a
// call whose buffers are both on the host those copies go through a pinned bounce buffer, the host thread waiting
// for the stream at each (the call is done on return anyway): a copy between pageable memory and the device may hold
// the runtime's staging until the stream reaches it, and the stream waits for the peers, whose threads (ranks of one
// process) may need that staging to enqueue their side of the round.
//
// Ranks as threads of one process: a thread blocked in a synchronous CUDA call whose stream waits for a round (a copy
// into pageable memory, as `tensor.cpu()` makes) can hold up in the runtime the other ranks' threads, which must
// still enqueue their side of that round: a hang (4 threads on an H200 hung so while the perf tools copied through
// pageable memory). Applications that run ranks as threads copy results back through pinned memory.
//
// Ranks of one process must not enqueue the same call on one stream: each would wait there for the other's part,
// queued behind it (no time-out ends a stream wait). The second such call fails with mixcclInvalidUsage, saying so
// (process_share.h); a group gives the ranks streams of their own first (core/fork_stream.h). A rank of a process with
// others hands its workspace to them at teardown (process_share.h): the last of them to go frees it.
//
// Streams: the rules above assume that each rank's rounds run in order. A call on another stream than the rank's
// previous one (or a host-only call, on the rank's own stream) therefore first waits, on the GPU, until this rank's
// `gathered` flag of the previous call's last round is set (every round ends by setting it).
//
// Failure: a stream waiting for a rank that died would wait forever, so a watchdog thread watches the peers'
// processes (all on this host); when one exits, or this rank aborts (releaseAll), every arrival and done flag this
// rank's streams could wait for is set far ahead (an exited rank's `gathered` too), so they run to the end (with
// invalid results) and onFailure reports it. When a rank of this process aborts, the others' waits on it pass the
// same way: they are told (onFailure), and their later calls fail with mixcclRemoteError; ranks of other processes
// learn of an abort through the communicator's transports (its notice), and their later calls fail the same way
// (core/device_launch.cc). The release's flag writes run on a stream of their own; where that stream queues behind
// a wait on a hardware queue it shares (more waiting streams than queues), the abort stops waiting for them after a
// bound, says so, and returns.
//
// Contract: create() is collective over the communicator's bootstrap (every rank calls it once, at init) and
// gives every rank the same answer: a ready GpuIpc, or nullptr (with the reason at INFO) when IPC is off or cannot
// be used here (ranks on several hosts, a rank without a usable GPU, different vendors, more than 16 ranks, an
// export or import that failed anywhere). A MIXCCL_GPU_IPC or MIXCCL_GPU_IPC_CHUNK_BYTES that differs between ranks
// is an error on every rank. allReduce() is called by the thread that uses the communicator, in the
// same order on every rank; it returns once the work is enqueued (host buffers: once it is done).
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "device/gpu_backend.h"
#include "engine/coll_args.h"
#include "transports/gpu_ipc/process_share.h"

namespace mixccl {

class GpuIpc {
 public:
  static constexpr size_t kDefaultChunkBytes = size_t(4) << 20;
  static constexpr size_t kOneShotBytes = size_t(256) << 10;
  static constexpr int kMaxRanks = 16;  // the n-input reduce takes at most 16 inputs
  static constexpr size_t kBounceBytes = size_t(1) << 20;  // pinned, for host-only calls
  static constexpr size_t kDirectRoundBytes = size_t(256) << 20;  // a direct all-reduce round at most
  static constexpr size_t kFusedOneShotBytes = size_t(16) << 10;   // a fused one-shot round at most

  // `pids`: every rank's process id (this host). `onFailure(rank, false)` is called once, from the watchdog thread,
  // when that rank's process exits while this one may wait for it; `onFailure(rank, true)` once, from that rank's
  // thread, when a rank of this process aborts (process_share.h).
  static Result create(Bootstrap& bootstrap, bool allOnOneHost, const std::vector<int>& pids,
                       std::function<void(int, bool)> onFailure, std::unique_ptr<GpuIpc>* out);
  ~GpuIpc();
  GpuIpc(const GpuIpc&) = delete;
  GpuIpc& operator=(const GpuIpc&) = delete;

  // The collective `args` (all-reduce, all-gather, reduce-scatter, broadcast or reduce; buffers as NCCL's) on
  // `stream`; spec: dtype, op without avg, divisor for avg (reducing collectives). Each buffer may be device or
  // host memory (`sendOnHost`, `recvOnHost`: also true for a buffer this rank does not use); kernels reach only
  // device memory, so host buffers go through this rank's slots; with both on the host the work runs on this
  // rank's own stream and is done when this returns.
  Result run(const CollArgs& args, const void* send, void* recv, const ReduceSpec& spec, void* stream,
             bool sendOnHost, bool recvOnHost);
  // Lets every stream wait of every rank on this rank's flags, and of this rank on everyone's, pass (abort).
  void releaseAll();

 private:
  GpuIpc() = default;
  enum Flag { kArrive = 0, kDone = 1, kGathered = 2 };
  // The flag page: 6 flag words (flag()), then from word 16 the address words (addressWords()), then at this byte
  // offset the fused direct kernel's count of its blocks done (uint64_t, zero between rounds).
  static constexpr size_t kBlocksOutOffset = 128;
  uint32_t* flag(int rank, Flag kind, uint32_t parity) const;
  // The four address words (send low, high, recv low, high) of `rank`'s direct round of parity `parity`.
  uint32_t* addressWords(int rank, uint32_t parity) const;
  char* inSlot(int rank, uint32_t parity) const;
  char* resultSlot(int rank, uint32_t parity) const;
  // Stream waits until `kind` of every other rank (of other processes only, if asked) is at or past `value`.
  Result waitAll(void* stream, Flag kind, uint32_t parity, uint32_t value, bool otherProcessesOnly = false);
  // The rounds (gpu_ipc_rounds.cc; the top of this file). Each takes the next `seq`. `host`: send and recv are host
  // memory. Elements [off, off + n) of `count` (the collective's count) move in one round.
  Result allReduceRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream, bool host);
  Result allGatherRound(const char* send, char* recv, size_t count, size_t off, size_t n, size_t esz, void* stream);
  Result reduceScatterRound(const char* send, char* recv, size_t count, size_t off, size_t n, const ReduceSpec& spec,
                            void* stream, bool host);
  Result broadcastRound(const char* send, char* recv, size_t off, size_t n, size_t esz, int root, void* stream);
  Result reduceRound(const char* send, char* recv, size_t off, size_t n, const ReduceSpec& spec, int root,
                     void* stream, bool host);
  // The fused kernels' arguments for round `seq` of `count` elements (buffers left to the caller); with a copy out to
  // host memory after the kernel (recvOnHost), the kernel leaves the round's end to closeRound.
  kernels::FusedArgs fusedArgs(kernels::FusedKind kind, uint32_t seq, size_t count, bool recvOnHost) const;
  // A fused one-shot all-reduce round (the top of this file): one kernel on `stream`; host buffers of this rank go
  // through its slots.
  Result fusedOneShotRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream,
                           bool sendOnHost, bool recvOnHost);
  // One round of the direct all-reduce (the top of this file), fused if fused_: ranks of one process; this rank's host
  // buffers go through its slots.
  Result directRound(const char* send, char* recv, size_t count, const ReduceSpec& spec, void* stream,
                     bool sendOnHost, bool recvOnHost);
  // The bytes of one direct round: the same on every rank.
  size_t directRoundBytes() const { return std::max(chunkBytes_, kDirectRoundBytes); }
  // Where this rank's host buffers of a direct round of `bytes` (parity p) go on the device: its slots, or the stage
  // (allocated or grown here) when they are too small.
  Result directSlots(size_t bytes, uint32_t p, char** in, char** out);
  // A round's hand-off: write my arrival of round `seq`, wait for everyone's.
  Result exchange(void* stream, uint32_t seq);
  // The end of my part of round `seq` (waited for at teardown).
  Result closeRound(void* stream, uint32_t seq);
  // Copies `bytes` from this rank's user buffer to device memory (copyIn) or back (copyOut) on `stream`. In a
  // host-only call (hostCall_) through the bounce buffer, waiting for the stream: done on return.
  Result copyIn(void* dst, const void* user, size_t bytes, void* stream);
  Result copyOut(void* user, const void* src, size_t bytes, void* stream);
  // out = srcs[0] op ... op srcs[nranks - 1] (count elements); host outputs go through my result slot of parity p.
  Result reduceTo(char* out, const void* const* srcs, size_t count, const ReduceSpec& spec, void* stream, bool host,
                  uint32_t p);
  // Sets the arrival and done flags of `rank` (in this rank's mapping) far ahead of any round enqueued so far, and
  // its `gathered` flags too where its process is `gone` (a live rank's are its own streams' to write: its teardown
  // and its calls on another stream wait for them).
  void release(int rank, bool gone);
  // Sets the flags of the kinds kArrive through `upTo` of ranks [firstRank, endRank) far ahead, on releaseStream_ (on
  // this rank's device; created at the first release), and waits for those writes at most kReleaseWaitSec; past that
  // bound, says why they may never run.
  void releaseFlags(int firstRank, int endRank, Flag upTo);
  // Enqueues on `stream` writes of `rank`'s flags of the kinds from `first` to `last` (both parities, in this rank's
  // mapping) far ahead in wrap-around order of every round enqueued so far, and of the next 2^29.
  Result setFlagsAhead(int rank, Flag first, Flag last, void* stream);
  void watch(std::vector<int> pids, std::function<void(int, bool)> onFailure);

  GpuBackend* gpu_ = nullptr;
  int rank_ = 0;
  int nranks_ = 1;
  size_t chunkBytes_ = kDefaultChunkBytes;  // one slot; the workspace is a flag page and 4 slots
  void* own_ = nullptr;             // this rank's workspace
  std::vector<char*> workspaces_;   // every rank's, mapped here (own_ at rank_)
  std::vector<bool> sameProcess_;   // rank r's workspace is this process's own memory (not imported)
  bool allOneProcess_ = false;      // every rank is in this process (direct all-reduces)
  bool fused_ = false;              // and MIXCCL_GPU_IPC_FUSED=1 (fused rounds)
  void* hostStream_ = nullptr;      // for calls on host buffers
  char* bounce_ = nullptr;          // kBounceBytes of pinned memory: host-only calls' copies
  char* stage_ = nullptr;           // direct rounds' host buffers past the slot size: 4 parts of stageRound_ bytes
  size_t stageRound_ = 0;
  std::vector<void*> retiredStages_;  // replaced by a larger stage; freed at teardown
  bool hostCall_ = false;           // run() is in a call whose buffers are both host memory
  std::atomic<uint32_t> seq_{0};    // rounds so far (wrapping: the flags' sequence numbers)
  uint64_t rounds_ = 0;             // the same, never wrapping, as of the end of the last call (run())
  std::mutex releaseMu_;
  std::atomic<bool> aborted_{false};  // releaseAll() ran: teardown releases this rank's flags once more
  // Where release() writes flags; created at the first release, not at init: one more stream of the context is one
  // more that may share a hardware queue with the ranks' waiting streams (the top of this file).
  void* releaseStream_ = nullptr;
  int device_ = -1;                 // this rank's GPU
  void* lastStream_ = nullptr;      // where this rank's previous call was enqueued
  std::shared_ptr<ProcessShare> share_;  // with this process's other ranks (process_share.h)
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace mixccl

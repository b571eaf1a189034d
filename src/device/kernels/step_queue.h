#pragma once
// The command queue between a host thread and a GPU "step server" (issue 5, core/device_steps.h): the host writes
// arithmetic commands into pinned memory, a kernel already enqueued on a stream runs them in order and reports how
// far it got, so the host thread that drives a plan never calls the GPU runtime.
//
// Protocol (all words in pinned host memory, mapped at the same address on the device):
//   * Jobs. Every kernel is launched for one job `ticket`. The host starts a job by writing `base` (the sequence
//     number its first command will have, minus one) and `counterBase`, then `job` = ticket (release). A kernel
//     waits until `job` is its ticket; one that finds `job` past its ticket (wrap-around order) exits at once,
//     and so does one whose job is replaced while it waits for a command (its job was given up).
//   * Commands. The k-th command of a job (k = 1, 2, ...) has sequence number s = base + k and lives in
//     ring[s % kStepRing]; the host fills its fields, then writes `seq` = s (release). kStepExit ends the job's
//     kernel. The host reuses a slot only once the command that was there is done (or belonged to an earlier
//     job).
//   * Completion. After a command every block of the kernel adds one to a device counter (zero at first) and
//     waits until all blocks have (grid-wide: the next command may read what this one wrote); then `done` = s.
//     Exit commands neither count nor report. `counterBase` is the number of (non-exit) commands done before the
//     job: the counter then stands at counterBase times the kernel's blocks.
//   * The kernel reads a command and the data of its inputs only after the host published them; the host reads
//     the outputs of command s only after seeing `done` >= s.
//   * Exit. The last block of a kernel to leave writes its ticket into exited[ticket % kStepExitSlots], so the
//     host knows when no kernel can touch the queue any more. The blocks count themselves out in
//     counter[1 + ticket % kStepExitSlots], which the launcher zeroes on the stream before the kernel.
// Plain data without initializers (device code keeps a copy in block-shared memory); the host zeroes a queue.
#include <cstdint>

namespace mixccl::kernels {

constexpr uint32_t kStepRing = 256;         // commands in flight at most
constexpr unsigned kStepServerBlocks = 16;  // blocks of a step-server kernel (all resident at once)
constexpr unsigned kStepServerThreads = 512;
constexpr uint32_t kStepExitSlots = 64;     // the last kernels whose exit the host can see
// Device words a server uses (its `counter` argument): the command counter, then the exit counters.
constexpr size_t kStepCounterWords = 1 + kStepExitSlots;

enum StepKind : uint32_t { kStepReduce = 0, kStepPostOp = 1, kStepCopy = 2, kStepExit = 3 };

// One command. reduce: dst = a op b (count elements of dtype; divided by divisor if > 1); postOp: dst = a divided
// by divisor (count elements); copy: count bytes from a to dst.
struct StepCommand {
  uint64_t dst, a, b;
  uint64_t count;
  uint32_t kind;  // StepKind
  uint32_t dtype, op, divisor;
  uint32_t seq;  // written last
  uint32_t pad[3];
};

struct StepQueue {
  StepCommand ring[kStepRing];
  uint64_t counterBase;
  uint32_t base;
  uint32_t job;   // written after base and counterBase
  uint32_t done;  // the last command done (its sequence number); written by the kernel
  uint32_t pad[3];
  uint64_t zero;  // stays 0: what the launcher copies into an exit counter
  uint32_t exited[kStepExitSlots];
};

}  // namespace mixccl::kernels

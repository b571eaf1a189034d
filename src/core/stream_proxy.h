#pragma once
// A communicator's proxy thread: runs the host side of stream-ordered collectives in submission order, off the
// user's thread (issue 5, host-staged path; DESIGN.md "device backends").
//
// How a collective on GPU buffers runs (core/device_launch.h builds the jobs): the user's stream copies the
// inputs to pinned staging memory and records an event; the job waits for that event here, runs the collective
// on the staging memory with the host engine, then advances the flag word to its ticket; the user's stream
// waits for the flag (GpuBackend::streamWaitFlag) and copies the results back. The user's thread only enqueues.
//
// Contract:
// * Jobs run one at a time, in submission order (every rank submits a communicator's collectives in the same
//   order, so they match across ranks). A job that fails still advances the flag, so no stream waits forever;
//   its error is the communicator's async error (set by the job itself).
// * submit() and waitFor() are called by the thread that uses the communicator; the flag is read by GPUs.
// * The destructor cancels what has not started, lets the running job end, and joins the thread; then it logs where
//   the time of the jobs with input events went, by size (MIXCCL_DEBUG=INFO; core/job_timing.h).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/job_timing.h"
#include "core/status.h"
#include "device/gpu_backend.h"

namespace mixccl {

class StreamProxy {
 public:
  struct Job {
    // Events (of `gpu`) the job's inputs wait for: the job starts when all of them have completed.
    std::vector<void*> inputsReady;
    // The host work, called once the inputs are ready or waiting for them failed (`inputs` is that result; the
    // job then only records the error). Returns its result; `cancelled` becomes true on cancel().
    std::function<Result(Result inputs, const std::atomic<bool>& cancelled)> run;
    // Whether waitFor(ticket) will be called for this job (its result is kept until then).
    bool keepResult = false;
    // The job's payload bytes (its calls' per-rank results), for the timing logged at teardown (core/job_timing.h).
    uint64_t bytes = 0;
  };

  // `flagWord` is a 32-bit word of pinned memory (GPU-readable) that this proxy alone advances; `gpu` the
  // backend of the events (nullptr when jobs never have events). A job whose inputs are not ready within
  // `timeoutSec` (MIXCCL_TIMEOUT) fails, saying so, instead of holding every later job.
  StreamProxy(GpuBackend* gpu, uint32_t* flagWord, double timeoutSec);
  ~StreamProxy();
  StreamProxy(const StreamProxy&) = delete;
  StreamProxy& operator=(const StreamProxy&) = delete;

  // Queues `job`; *ticket is the flag value that means "this job has run". Returns the job's place in the order of
  // all jobs submitted, from 1 (64 bits: never wraps, unlike the ticket), which completed() reaches once it has run.
  uint64_t submit(Job job, uint32_t* ticket);
  // How many jobs have run (any thread).
  uint64_t completed() const { return completed_.load(std::memory_order_acquire); }
  // Blocks until the job of `ticket` (submitted with keepResult) has run; returns that job's result.
  Result waitFor(uint32_t ticket);
  // Blocks until every submitted job has run.
  void drain();
  // Makes the jobs that have not started fail at once, and the running one (through `cancelled`) as soon as it
  // waits; used by abort.
  void cancel();

  const uint32_t* flag() const { return flag_; }

 private:
  void loop();
  Result waitInputs(const Job& job);

  GpuBackend* gpu_;
  uint32_t* flag_;
  const double timeoutSec_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint32_t, Job>> queue_;
  uint32_t nextTicket_ = 0;
  uint64_t submitted_ = 0;
  std::atomic<uint64_t> completed_{0};
  uint32_t doneTicket_ = 0;
  std::map<uint32_t, Result> results_;  // of the jobs submitted with keepResult, until waitFor takes them
  bool stop_ = false;
  std::atomic<bool> cancelled_{false};
  JobTiming timing_;  // the proxy thread's, read after it has been joined
  std::thread thread_;
};

}  // namespace mixccl

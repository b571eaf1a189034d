// How long a small copy between a GPU and pinned host memory takes, alone and while another process's stream on
// the same GPU waits for a flag (as a staged rank's stream waits for its proxy; core/device_launch.h). Run 5 on an
// H200 timed staged all-reduces of 2 processes on one GPU at 190-260 us from 8 B to 1 KiB and 31 us at 2 KiB: if
// small copies must wait for the other context's time slice while larger ones go to a copy engine, this shows it.
// A measurement for tests/gpu/run.sh, not a test: it prints a table and fails only when the GPU does.
//
// Usage: copy_latency_probe [repeats]   (MIXCCL_TEST_REAL_GPU=1; without a usable GPU it exits 77, saying why)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/test_gpu.h"

namespace mixccl {
namespace {

constexpr size_t kSizes[] = {8, 64, 512, 1024, 2048, 4096, 65536};
constexpr size_t kLargest = 65536;

// The median over `repeats` of one copy of `bytes` and the stream's synchronisation, in microseconds; < 0 when a
// call failed (logged by the backend).
double medianCopyUs(GpuBackend* gpu, void* stream, void* dst, const void* src, size_t bytes, int repeats) {
  std::vector<double> us;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (gpu->copyAsync(dst, src, bytes, stream) != mixcclSuccess || gpu->streamSynchronize(stream) != mixcclSuccess) {
      return -1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

// The other process, forked before the parent touched the GPU: once `control` gives it a byte, it makes a stream of
// its own that waits on a pinned flag and says so on `ready` (1, or 0 when a GPU call failed); the next byte on
// `control` (or its end) releases the wait. Returns the process's exit code: 0, or 1 when a GPU call failed.
int holdAStream(int control, int ready) {
  char byte = 0;
  if (read(control, &byte, 1) != 1) return 1;
  std::string why;
  GpuBackend* gpu = testing::testGpu(&why);
  void* stream = nullptr;
  void* flag = nullptr;
  byte = 1;
  if (gpu == nullptr || gpu->setDevice(0) != mixcclSuccess || gpu->streamCreate(&stream) != mixcclSuccess ||
      gpu->allocPinned(sizeof(uint32_t), &flag) != mixcclSuccess) {
    byte = 0;
  } else {
    *static_cast<volatile uint32_t*>(flag) = 0;
    if (gpu->streamWaitFlag(stream, static_cast<uint32_t*>(flag), 1) != mixcclSuccess) byte = 0;
  }
  if (write(ready, &byte, 1) != 1 || byte == 0) return 1;
  const ssize_t released = read(control, &byte, 1);  // a byte, or the parent's end of the pipe: either releases it
  (void)released;
  __atomic_store_n(static_cast<uint32_t*>(flag), 1u, __ATOMIC_RELEASE);
  return gpu->streamSynchronize(stream) == mixcclSuccess ? 0 : 1;
}

struct Row {
  double d2h = 0, h2d = 0;
};

bool measure(GpuBackend* gpu, void* stream, void* device, void* host, int repeats, std::vector<Row>* rows) {
  rows->clear();
  for (size_t bytes : kSizes) {
    Row r;
    r.d2h = medianCopyUs(gpu, stream, host, device, bytes, repeats);
    r.h2d = medianCopyUs(gpu, stream, device, host, bytes, repeats);
    if (r.d2h < 0 || r.h2d < 0) return false;
    rows->push_back(r);
  }
  return true;
}

// The parent's side, with the other process (holdAStream) waiting for its first byte on `control`.
int probeBeside(int control, int ready, int repeats) {
  std::string why;
  GpuBackend* gpu = testing::testGpu(&why);
  if (gpu == nullptr) {
    std::printf("copy_latency_probe: skipped: no usable GPU (%s)\n", why.c_str());
    return 77;
  }
  void* stream = nullptr;
  void* device = nullptr;
  void* host = nullptr;
  if (gpu->setDevice(0) != mixcclSuccess || gpu->streamCreate(&stream) != mixcclSuccess ||
      gpu->allocDevice(kLargest, &device) != mixcclSuccess || gpu->allocPinned(kLargest, &host) != mixcclSuccess) {
    std::printf("copy_latency_probe: setting up the GPU failed (see above)\n");
    return 1;
  }
  std::vector<Row> alone, beside;
  if (!measure(gpu, stream, device, host, repeats, &alone)) return 1;
  char byte = 1;
  const bool waiting = write(control, &byte, 1) == 1 && read(ready, &byte, 1) == 1 && byte == 1;
  const bool ok = waiting && measure(gpu, stream, device, host, repeats, &beside);
  if (!waiting) {
    std::printf("copy_latency_probe: the other process could not queue a waiting stream (see above)\n");
    return 1;
  }
  if (!ok) return 1;
  std::printf("# copy + stream sync, median of %d, us: alone, and while another process's stream waits on a flag\n",
              repeats);
  std::printf("%8s %10s %10s %12s %12s\n", "bytes", "d2h_alone", "h2d_alone", "d2h_beside", "h2d_beside");
  for (size_t i = 0; i < alone.size(); ++i) {
    std::printf("%8zu %10.1f %10.1f %12.1f %12.1f\n", kSizes[i], alone[i].d2h, alone[i].h2d, beside[i].d2h,
                beside[i].h2d);
  }
  return 0;
}

int probe(int repeats) {
  int control[2], ready[2];
  if (pipe(control) != 0 || pipe(ready) != 0) {
    std::perror("copy_latency_probe: pipe");
    return 1;
  }
  std::fflush(stdout);
  const pid_t child = fork();
  if (child < 0) {
    std::perror("copy_latency_probe: fork");
    return 1;
  }
  if (child == 0) {
    close(control[1]);
    close(ready[0]);
    _exit(holdAStream(control[0], ready[1]));
  }
  close(control[0]);
  close(ready[1]);
  const int rc = probeBeside(control[1], ready[0], repeats);
  close(control[1]);  // releases the child's wait, or ends it before it began (its read sees the end)
  int status = 0;
  waitpid(child, &status, 0);
  const bool childOk = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || rc != 0);
  if (!childOk) std::printf("copy_latency_probe: the other process failed (status %d)\n", status);
  return rc != 0 ? rc : (childOk ? 0 : 1);
}

}  // namespace
}  // namespace mixccl

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  return mixccl::probe(repeats);
}

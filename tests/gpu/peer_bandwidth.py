"""The card's own rates, measured in the same run as mixccl's sweep (tests/gpu/run.sh): the peers that the perf
table's floors are computed from.

  d2d    a device-to-device copy of 1 GiB, bytes read plus bytes written per second (the HBM rate)
  d2h    a copy from device memory to pinned host memory, bytes per second
  h2d    a copy from pinned host memory to device memory, bytes per second

Each is the median of 9 copies timed with CUDA events after 3 warm-up copies; the inputs are random, not zeros.
Prints one line per rate, "peer NAME GB_PER_S", which run.sh reads. Exits 77 (skipped) without a CUDA GPU.
"""
import statistics
import sys

try:
    import torch
except ImportError:
    print("SKIPPED: PyTorch is not installed")
    sys.exit(77)

if not torch.cuda.is_available():
    print("SKIPPED: no CUDA GPU visible to PyTorch")
    sys.exit(77)

BYTES = 1 << 30


def timed_copy(dst, src, counted_bytes):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        dst.copy_(src, non_blocking=True)
    times = []
    for _ in range(9):
        start.record()
        dst.copy_(src, non_blocking=True)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return counted_bytes / statistics.median(times) / 1e9


dev_a = torch.randint(0, 255, (BYTES,), dtype=torch.uint8, device="cuda")
dev_b = torch.empty_like(dev_a)
host = torch.empty(BYTES, dtype=torch.uint8).pin_memory()
host.copy_(dev_a.cpu())
print(f"device {torch.cuda.get_device_name(0)}")
print(f"peer d2d {timed_copy(dev_b, dev_a, 2 * BYTES):.1f}")
print(f"peer d2h {timed_copy(host, dev_a, BYTES):.1f}")
print(f"peer h2d {timed_copy(dev_b, host, BYTES):.1f}")

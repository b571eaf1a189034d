#!/usr/bin/env bash
# One command for a GPU machine: configures mixccl with CUDA (HIP, UCX and libfabric off: such a machine has no
# ROCm and no network-transport headers), builds, runs the GPU tests on the device (where a missing backend is
# a failure, not a skip) and the quick CPU subset, and prints a summary table last. Exits non-zero on any
# failure. Needs no network access.
#
# Usage: tests/gpu/run.sh [build-dir]      (default: build-gpu-run in the repository root)
# Environment: CUDA_HOME (default /usr/local/cuda), MIXCCL_CMAKE_ARGS (extra cmake arguments),
#              MIXCCL_CUDA_ARCHITECTURES (default 90: H100, plus PTX for newer GPUs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build-gpu-run}"
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
jobs="$(nproc 2>/dev/null || echo 4)"
logs="$build/gpu-run-logs"

declare -a rows=()
status=0
# step NAME COMMAND...: runs COMMAND with its output in $logs/NAME.log (tail shown on failure), adds a row.
step() {
  local name="$1"
  shift
  local start end rc=0
  start=$(date +%s)
  "$@" >"$logs/$name.log" 2>&1 || rc=$?
  end=$(date +%s)
  # GoogleTest's own summary lines, as counts.
  local log="$logs/$name.log" summary="" n
  n="$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || true)"
  [ -n "$n" ] && summary+="passed $n"
  n="$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || true)"
  [ -n "$n" ] && summary+=", skipped $n"
  n="$(grep -oE '^ *[0-9]+ FAILED TESTS?' "$log" | grep -oE '[0-9]+' || true)"
  [ -n "$n" ] && summary+=", failed $n"
  if [ "$rc" -eq 0 ]; then
    rows+=("$(printf '%-22s %-6s %6ss  %s' "$name" ok "$((end - start))" "$summary")")
  else
    rows+=("$(printf '%-22s %-6s %6ss  %s' "$name" FAIL "$((end - start))" "$summary (rc $rc, log $logs/$name.log)")")
    echo "---- $name failed (rc $rc); last lines of $logs/$name.log:"
    tail -n 40 "$logs/$name.log"
    status=1
  fi
  return "$rc"
}

print_table() {
  echo
  echo "==== mixccl GPU run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo 'no GPU')"
  printf '%-22s %-6s %7s  %s\n' step result time details
  for r in "${rows[@]}"; do echo "$r"; done
  if [ "$status" -eq 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
}
trap print_table EXIT

mkdir -p "$build" "$logs"
echo "==== nvidia-smi"
if ! nvidia-smi; then
  echo "tests/gpu/run.sh: nvidia-smi failed: is this a GPU machine with the NVIDIA driver?" >&2
  status=1
  exit 1
fi
echo "==== nvcc: $("$cuda_home/bin/nvcc" --version | tail -n 1)"

# shellcheck disable=SC2086
step configure cmake -S "$root" -B "$build" -G "$(command -v ninja >/dev/null && echo Ninja || echo 'Unix Makefiles')" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUDAToolkit_ROOT="$cuda_home" \
  -DMIXCCL_WITH_CUDA=ON -DMIXCCL_WITH_HIP=OFF -DMIXCCL_WITH_UCX=OFF -DMIXCCL_WITH_OFI=OFF \
  -DMIXCCL_CUDA_ARCHITECTURES="${MIXCCL_CUDA_ARCHITECTURES:-90}" ${MIXCCL_CMAKE_ARGS:-} || exit 1
step build cmake --build "$build" -j "$jobs" || exit 1
"$build/tools/mixccl-info" | grep -E '^(Built with|GPU backend)' || true

# The GPU tests, with the CUDA backend required (unavailable = failure, with the runtime's reason).
export MIXCCL_TEST_REQUIRE_GPU=cuda
step gpu_backend_test "$build/tests/gpu_backend_test" --gtest_filter='-*/hip' || true
step kernel_arith_test "$build/tests/kernel_arith_test" || true
# The quick CPU subset: the unit tests (seconds; no plan simulator, multi-process, multi-host or perf runs).
for t in cpu_reduce_test float_formats_test config_selector_test bootstrap_test shm_transport_test; do
  if [ -x "$build/tests/$t" ]; then step "$t" "$build/tests/$t" || true; fi
done
exit "$status"

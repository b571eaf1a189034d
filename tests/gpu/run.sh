#!/usr/bin/env bash
# One command for a GPU machine: configures mixccl with CUDA (HIP, UCX and libfabric off: such a machine has no
# ROCm and no network-transport headers), builds, runs the GPU test matrix on the device (where a missing backend
# is a failure, not a skip), the perf tools on device buffers, the quick CPU subset and, where PyTorch is installed,
# PyTorch DDP through mixccl's libnccl.so.2; prints a summary table and a short perf table last. Exits non-zero on
# any failure. Needs no network access.
#
# Steps, in this order (each logs to <build>/gpu-run-logs/<step>.log; the tail of a failing step's log is shown):
#   configure, build                 CMake with CUDA, everything built
#   peers                            the card's copy rates (tests/gpu/peer_bandwidth.py): the floors' peers
#   gpu_backend_test, kernel_arith   the CUDA backend and the kernels on the device
#   perf_all_types                   issue 5's "Done means": all_reduce_perf -N 4 -b 8 -e 256M -f 2 -d all on device
#                                    buffers (one checked op per size): 0 wrong
#   torch_ddp(_ipc)                  tests/frameworks/run_torch_ddp.sh, 2 and 4 ranks on the GPU (skipped where
#                                    PyTorch is missing); _ipc: with MIXCCL_GPU_IPC=1
#   staged_device                    every collective x datatype x op, in and out of place, on device buffers, with
#                                    1, 2, 4 and 8 ranks on the one GPU, groups, a mixed CPU+GPU communicator
#                                    (tests/multiproc/staged_device_test.cc with MIXCCL_TEST_REAL_GPU=1)
#   staged_device_ipc(_kernel_wait)  the same with MIXCCL_GPU_IPC=1 (and with MIXCCL_STREAM_WAIT=kernel)
#   device_steps                     tests/multiproc/device_steps_test.cc: MIXCCL_DEVICE_STEPS=1 (reductions on the
#                                    GPU, straight out of the transports' slots) with ranks as threads of one
#                                    process, two processes copying back into pageable memory, the rules of auto
#   CPU unit tests                   seconds
#   gpu_backend_fused, shared_reduce the fused kernels and the shared segment (the defaults) on the device
#   perf_sweep_N<label>              all_reduce_perf float sum, device buffers, 8 B..256 MiB (labels: sweep_ranks)
#   perf_host_N4                     the host engine alone, 4 ranks on host buffers
#   copy_latency(_kernel_wait)       small copies' latency, alone and beside another process's waiting stream
#                                    (tests/gpu/copy_latency_probe.cc; its memop and its kernel wait): a measurement
#   process_ranks, extra sweeps, torch_ddp_ipc, shared_reduce_aborts, device_steps_processes, staged_device_steps
#                                    explorations (ranks of one process on one stream, and on few hardware
#                                    queues; device steps in separate processes on the one GPU), whose running out
#                                    of time is not a failure
# Then two tables: time and busbw per sweep, and the sweeps against the issue's floors.
#
# The whole run stays within MIXCCL_GPU_RUN_BUDGET_S seconds (default 540, under a 10-minute command limit): each
# step is bounded by `timeout` and by what is left of the budget; a step that no longer fits is reported as skipped.
#
# Usage: tests/gpu/run.sh [build-dir]      (default: build-gpu-run in the repository root)
# Environment: CUDA_HOME (default /usr/local/cuda), MIXCCL_CMAKE_ARGS (extra cmake arguments),
#              MIXCCL_CUDA_ARCHITECTURES (default 90: H100, plus PTX for newer GPUs), MIXCCL_GPU_RUN_BUDGET_S,
#              MIXCCL_GPU_RUN_REUSE_BUILD=1 (skip configure and build: run the tests of an existing build-dir),
#              MIXCCL_GPU_RUN_ONLY (an extended regular expression: only the steps whose names match run, besides
#              configure and build; the others are listed as not selected), MIXCCL_GPU_RUN_SWEEPS (the sweep labels
#              to run, instead of the perf table's and the extra ones).
# A step that runs out of time has its processes' threads written to <step>.log.stacks before it is killed (each
# one's kernel wait channel, and the backtraces of tools/stack_dump.cc): what a hang was waiting for.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build-gpu-run}"
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
jobs="$(nproc 2>/dev/null || echo 4)"
logs="$build/gpu-run-logs"
budget="${MIXCCL_GPU_RUN_BUDGET_S:-540}"
started=$(date +%s)
# Sweeps by label: "<n>": n ranks (processes) on the GPU, staged; "<n>ipc": the same with MIXCCL_GPU_IPC=1
# (transports/gpu_ipc: mapped device memory); "<n>thr": n ranks as threads of one process (one CUDA context, so
# their kernels can run at once; -N 1 -t n) with MIXCCL_GPU_IPC=1; a suffix "r<size>" sets gpu_ipc's round
# (MIXCCL_GPU_IPC_CHUNK_BYTES; default 4M): each hand-off between processes costs a GPU context switch; "dev":
# staged with device steps instead of gpu_ipc (MIXCCL_DEVICE_STEPS=1: the GPU reduces straight out of the shm
# slots; "<n>dev" n processes; "<n>thrdev" n threads of one process, whose kernels need no switch; both up to 8 MiB:
# every chunk's step waits for the GPU and the proxy in turn, 0.15 GB/s for 4 threads on an H200);
# a suffix "c<size>" sets the pipeline chunk and the shm slot (MIXCCL_CHUNK_BYTES, MIXCCL_SHM_SLOT_BYTES; 128K);
# "p<size>" cuts large calls into pieces staged one by one, their copies overlapping (MIXCCL_STAGED_PIECE_BYTES);
# a final "f" turns on gpu_ipc's fused kernels (MIXCCL_GPU_IPC_FUSED=1: every all-reduce round of ranks as threads
# as one kernel per rank, the ranks' kernels waiting for each other inside the GPU; one-shot up to 16 KiB, direct
# above); "<n>sh": n processes whose all-reduces meet in one shared host segment (MIXCCL_SHARED_REDUCE=1: each
# rank's input crosses PCIe once each way and the host reads it once; core/shared_reduce.h).
# The first sweeps are the perf table's: the defaults since run 8 (processes through the shared segment, threads
# with the fused kernels) beside what they replaced (staging, gpu_ipc's rounds); the extra ones (explorations) run
# last, and one that no longer fits the budget is reported as skipped without failing the run.
sweep_main=(1 2 4 8 2sh 4sh 8sh 4ipc 2thr 4thr 8thr 2thrf 4thrf 8thrf 4thrdev)
sweep_extra=(4p8M 4dev 4thrdevc1M 8ipc 4ipcr32M)
# shared_reduce_test's tests that wait out a hung rank (25 s): in a step of their own after the sweeps.
shared_waits='*AnAbortWithItsStreamHeld*:*AShrinkThatAborts*'
if [ -n "${MIXCCL_GPU_RUN_SWEEPS:-}" ]; then
  read -r -a sweep_main <<<"$MIXCCL_GPU_RUN_SWEEPS"
  sweep_extra=()
fi
sweep_ranks=("${sweep_main[@]}" ${sweep_extra[@]+"${sweep_extra[@]}"})
# The rank count of a sweep label.
label_ranks() { [[ "$1" =~ ^([0-9]+) ]] && echo "${BASH_REMATCH[1]}"; }

declare -a rows=()
status=0

# Seconds left of the budget.
remaining() { echo $((budget - ($(date +%s) - started))); }

# add_row NAME RESULT SECONDS DETAILS
add_row() { rows+=("$(printf '%-22s %-7s %6ss  %s' "$1" "$2" "$3" "$4")"); }

# The processes below PID, depth first.
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do
    echo "$p"
    descendants "$p"
  done
}

# dump_stacks PID FILE: the threads of PID's descendants into FILE: each one's kernel wait channel, and the
# backtraces the test programs and perf tools write on SIGUSR1 (tools/stack_dump.cc, into $MIXCCL_STACKS_DIR).
dump_stacks() {
  local p t pids traces
  pids="$(descendants "$1")"
  for p in $pids; do kill -USR1 "$p" 2>/dev/null || true; done
  sleep 2
  for p in $pids; do
    echo "==== process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"
    for t in /proc/"$p"/task/*; do
      echo "thread ${t##*/} $(cat "$t/comm" 2>/dev/null): wchan $(cat "$t/wchan" 2>/dev/null)," \
        "syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
    done
    traces="$MIXCCL_STACKS_DIR/stacks-$p.txt"
    if [ -s "$traces" ]; then
      if command -v c++filt >/dev/null; then c++filt <"$traces"; else cat "$traces"; fi
    fi
  done >"$2" 2>&1
}

# step NAME LIMIT COMMAND...: runs COMMAND with its output in $logs/NAME.log, bounded by LIMIT seconds and by the
# budget, and adds a row. Exit code 77 means skipped (with the reason from the log). With $expect set, the log must
# also match that extended regular expression. With $optional set (an extra step), running out of the budget or
# of its time limit is reported (skip, slow) rather than failed; its other failures (wrong results, crashes) still
# count. Returns the command's exit code.
step() {
  local name="$1" limit="$2"
  shift 2
  local log="$logs/$name.log" left start end rc=0 summary="" n capped=0 what pid watcher
  if [ -n "${MIXCCL_GPU_RUN_ONLY:-}" ] && [ "$name" != configure ] && [ "$name" != build ] &&
    ! [[ "$name" =~ $MIXCCL_GPU_RUN_ONLY ]]; then
    add_row "$name" skip 0 "not selected (MIXCCL_GPU_RUN_ONLY)"
    return 77
  fi
  left=$(remaining)
  if [ "$left" -lt 30 ]; then
    add_row "$name" skip 0 "no time left of the ${budget} s budget${optional:+ (an extra step: not a failure)}"
    echo "---- $name skipped: no time left of the ${budget} s budget"
    [ -n "${optional:-}" ] || status=1
    return 1
  fi
  [ "$limit" -le $((left - 20)) ] || { limit=$((left - 20)); capped=1; }
  echo "==== $name (at most ${limit} s): $*"
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 &
  pid=$!
  # Shortly before the limit, the stacks of whatever still runs (gdb takes seconds per process). The watcher's nap
  # ends with it, and it holds none of this script's output open: a step that finishes early leaves nothing behind
  # (a stray nap would keep a pipe reading this script's output open until it ended).
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep "$((limit >= 20 ? limit - 8 : limit / 2))" &
    nap=$!
    wait "$nap"
    dump_stacks "$pid" "$log.stacks"
  ) </dev/null >/dev/null 2>&1 &
  watcher=$!
  wait "$pid" || rc=$?
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || rm -f "$log.stacks"
  end=$(date +%s)
  if [ "$rc" -eq 0 ] && [ -n "${expect:-}" ] && ! grep -qE "$expect" "$log"; then
    rc=1
    summary="no line matching '$expect'"
  fi
  # GoogleTest's own summary lines as counts, and the perf tools' footer.
  n="$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)"
  [ -z "$n" ] || summary+="${summary:+, }passed $n"
  n="$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | tail -n 1 || true)"
  [ -z "$n" ] || summary+="${summary:+, }skipped $n"
  n="$(grep -oE '^ *[0-9]+ FAILED TESTS?' "$log" | grep -oE '[0-9]+' | tail -n 1 || true)"
  [ -z "$n" ] || summary+="${summary:+, }failed $n"
  n="$(grep -E '^# Out of bounds values' "$log" | tail -n 1 | sed 's/^# Out of bounds values : *//' || true)"
  [ -z "$n" ] || summary+="${summary:+, }wrong $n"
  if [ "$rc" -eq 0 ]; then
    add_row "$name" ok "$((end - start))" "$summary"
  elif [ "$rc" -eq 77 ]; then
    add_row "$name" skip "$((end - start))" "$(grep -E 'SKIPPED' "$log" | tail -n 1 || true)"
  elif [ -n "${optional:-}" ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
    # An exploration too slow to finish is a finding, not a failure: said in the row, with its log.
    if [ "$capped" = 1 ]; then what="stopped at the end of the ${budget} s budget"; else what="timed out after $limit s"; fi
    add_row "$name" slow "$((end - start))" "${summary:+$summary; }$what (an extra step: not a failure), log $log"
  else
    what="rc $rc"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then what="timed out after $limit s"; fi
    add_row "$name" FAIL "$((end - start))" "${summary:+$summary; }$what, log $log"
    echo "---- $name failed ($what); last lines of $log:"
    tail -n 40 "$log"
    if [ -s "$log.stacks" ]; then
      echo "---- $name: thread stacks before the limit ($log.stacks):"
      head -n 150 "$log.stacks"
    fi
    status=1
  fi
  return "$rc"
}

# The short perf table: out-of-place time and busbw of the sweep per rank count, at every 16th size step.
# shellcheck disable=SC2317  # print_perf_table and print_table run from the EXIT trap
print_perf_table() {
  local n size label line log
  local -a sizes=(8 128 2048 32768 524288 8388608 134217728 268435456)
  local -a labels=(8B 128B 2K 32K 512K 8M 128M 256M)
  echo
  echo "==== all_reduce_perf, float sum, device buffers, ranks on one GPU: out-of-place time (us) / busbw (GB/s)"
  line="$(printf '%8s' size)"
  for n in "${sweep_ranks[@]}"; do line+="$(printf ' | %19s' "N=$n")"; done
  echo "$line"
  for i in "${!sizes[@]}"; do
    size="${sizes[$i]}"
    label="${labels[$i]}"
    line="$(printf '%8s' "$label")"
    for n in "${sweep_ranks[@]}"; do
      log="$logs/perf_sweep_N$n.log"
      local cell="-"
      if [ -f "$log" ]; then
        cell="$(awk -v s="$size" '$1 !~ /^#/ && NF >= 13 && $1 == s { printf "%9s / %7s", $6, $8; exit }' "$log")"
        [ -n "$cell" ] || cell="-"
      fi
      line+="$(printf ' | %19s' "$cell")"
    done
    echo "$line"
  done
}

# The floors of issue 5 against the sweeps, from the peer rates measured in this run (peers.log):
#   HBM: all-reduce of S bytes on each of n ranks of one GPU must read n*S and write n*S bytes at least, so the
#        floor is 2*n*S over the measured device-to-device copy rate (and over the issue's 3.0 TB/s of an H100);
#   latency: the slowest out-of-place time from 8 B to 8 KiB with 4 ranks (target <= 15 us);
#   PCIe: a staged all-reduce copies n*S bytes to the host and n*S back; its rate n*S/time against the slower copy
#        direction (target >= 0.8 at >= 64 MiB).
# shellcheck disable=SC2317
print_floor_table() {
  local d2d d2h h2d n log
  d2d="$(awk '$1 == "peer" && $2 == "d2d" { print $3 }' "$logs/peers.log" 2>/dev/null)"
  d2h="$(awk '$1 == "peer" && $2 == "d2h" { print $3 }' "$logs/peers.log" 2>/dev/null)"
  h2d="$(awk '$1 == "peer" && $2 == "h2d" { print $3 }' "$logs/peers.log" 2>/dev/null)"
  echo
  echo "==== floors (peer rates measured now: d2d ${d2d:-?} GB/s read+write, d2h ${d2h:-?} GB/s, h2d ${h2d:-?} GB/s)"
  printf '%-8s %10s %12s %14s %14s %12s\n' sweep size time_us "x_floor(d2d)" "x_floor(3TB/s)" "pcie_rate"
  for n in "${sweep_ranks[@]}"; do
    log="$logs/perf_sweep_N$n.log"
    [ -f "$log" ] || continue
    awk -v n="$(label_ranks "$n")" -v label="N$n" -v d2d="${d2d:-0}" -v d2h="${d2h:-0}" -v h2d="${h2d:-0}" '
      $1 ~ /^[0-9]+$/ && NF >= 13 && $1 >= 67108864 {
        t = $6 / 1e6; minb = 2 * n * $1; slow = (d2h < h2d ? d2h : h2d)
        printf "%-8s %10s %12.1f %14s %14.2f %12s\n", label, $1, $6,
          (d2d > 0 ? sprintf("%.2f", minb / (d2d * 1e9) > 0 ? t / (minb / (d2d * 1e9)) : 0) : "?"),
          t / (minb / 3.0e12), (slow > 0 ? sprintf("%.2f", (n * $1 / t) / (slow * 1e9)) : "?")
      }
      $1 ~ /^[0-9]+$/ && NF >= 13 && $1 >= 8 && $1 <= 8192 && $6 > worst { worst = $6 }
      END { if (worst > 0) printf "%-8s %10s %12.1f   (slowest of 8 B..8 KiB; target <= 15 us at N=4)\n", label, "8..8K", worst }
    ' "$log"
  done
}

# shellcheck disable=SC2317
print_table() {
  local r
  print_perf_table || true
  print_floor_table || true
  echo
  echo "==== mixccl GPU run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo 'no GPU'), $(($(date +%s) - started)) s"
  printf '%-22s %-7s %7s  %s\n' step result time details
  for r in ${rows[@]+"${rows[@]}"}; do echo "$r"; done
  if [ "$status" -eq 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
}
trap print_table EXIT
trap 'echo "tests/gpu/run.sh: interrupted" >&2; status=1; exit 143' TERM INT

mkdir -p "$build" "$logs" "$logs/stacks"
rm -rf "$logs/torch-reference"  # gloo curves of an earlier run (reused build dir) are not kept
export MIXCCL_STACKS_DIR="$logs/stacks"  # tools/stack_dump.cc: backtraces on SIGUSR1
echo "==== nvidia-smi"
if ! nvidia-smi; then
  echo "tests/gpu/run.sh: nvidia-smi failed: is this a GPU machine with the NVIDIA driver?" >&2
  add_row nvidia-smi FAIL 0 "no NVIDIA driver or GPU"
  status=1
  exit 1
fi
echo "==== nvcc: $("$cuda_home/bin/nvcc" --version | tail -n 1 || echo "not found in $cuda_home")"

if [ "${MIXCCL_GPU_RUN_REUSE_BUILD:-0}" = 1 ] && [ -x "$build/perf/all_reduce_perf" ]; then
  add_row configure skip 0 "MIXCCL_GPU_RUN_REUSE_BUILD=1: the tests of $build as built"
else
  # shellcheck disable=SC2086  # MIXCCL_CMAKE_ARGS is a list of words on purpose
  step configure 200 cmake -S "$root" -B "$build" \
    -G "$(command -v ninja >/dev/null && echo Ninja || echo 'Unix Makefiles')" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUDAToolkit_ROOT="$cuda_home" \
    -DMIXCCL_WITH_CUDA=ON -DMIXCCL_WITH_HIP=OFF -DMIXCCL_WITH_UCX=OFF -DMIXCCL_WITH_OFI=OFF \
    -DMIXCCL_CUDA_ARCHITECTURES="${MIXCCL_CUDA_ARCHITECTURES:-90}" ${MIXCCL_CMAKE_ARGS:-} || exit 1
  step build 360 cmake --build "$build" -j "$jobs" || exit 1
fi
"$build/tools/mixccl-info" | grep -E '^(Built with|GPU backend)' || true

# The card's own copy rates (the floors of the perf table), measured now, beside mixccl's numbers.
if command -v python3 >/dev/null; then step peers 60 python3 "$root/tests/gpu/peer_bandwidth.py" || true; fi

# The GPU tests, with the CUDA backend required (unavailable = failure, with the runtime's reason).
export MIXCCL_TEST_REQUIRE_GPU=cuda
# (The fused kernels, opt-in and not yet run on a GPU, are tested in an extra step at the end.)
step gpu_backend_test 60 "$build/tests/gpu_backend_test" --gtest_filter='-*/hip:*Fused*' || true
step kernel_arith_test 60 "$build/tests/kernel_arith_test" || true

# Issue 5's "Done means" command: every datatype up to 256 MiB on device buffers (--memory device: no silent
# fallback to host memory; one timed op and no warm-up per size: this one checks, the sweeps below measure).
expect='^# memory: cuda' step perf_all_types 150 \
  "$build/perf/all_reduce_perf" -N 4 -b 8 -e 256M -f 2 -d all -n 1 -w 0 --memory device || true

# PyTorch DDP with backend "nccl" on mixccl's libnccl.so.2 against gloo (exit 77, a skip, without PyTorch).
have_torch=0
if command -v python3 >/dev/null && python3 -c 'import torch' >/dev/null 2>&1; then have_torch=1; fi
if [ "$have_torch" = 1 ]; then
  # The gloo reference curves are computed once and kept for the second step (about 14 s per torchrun).
  step torch_ddp 150 env MIXCCL_TORCH_REFERENCE_DIR="$logs/torch-reference" \
    "$root/tests/frameworks/run_torch_ddp.sh" "$build" 2 4 || true
  # (The same with gpu_ipc forced on for the processes is an extra step at the end.)
else
  add_row torch_ddp skip 0 "python3 with torch is not installed"
fi

# Every collective on device buffers, several ranks on the one GPU, a mixed CPU+GPU communicator.
step staged_device 150 env MIXCCL_TEST_REAL_GPU=1 MIXCCL_TEST_RANK_COUNTS="1 2 4 8" \
  "$build/tests/staged_device_test" || true
# The same with gpu_ipc: all-reduces through mapped device memory (every other collective staged), a lost peer
# and abort releasing the streams; both ways a stream waits for a flag.
step staged_device_ipc 60 env MIXCCL_TEST_REAL_GPU=1 MIXCCL_GPU_IPC=1 MIXCCL_TEST_RANK_COUNTS="2 4" \
  "$build/tests/staged_device_test" || true
step staged_device_ipc_kernel_wait 60 env MIXCCL_TEST_REAL_GPU=1 MIXCCL_GPU_IPC=1 MIXCCL_STREAM_WAIT=kernel \
  MIXCCL_TEST_RANK_COUNTS="3" "$build/tests/staged_device_test" --gtest_filter='*EveryCollective*:*Groups*' || true
# Device steps (the reductions on the GPU by a step server kernel, reading and writing the shared-memory slots,
# registered with cudaHostRegister) where they belong on one GPU: ranks as threads of one process (one context,
# the test's copies pinned); two processes whose threads block in copies into pageable memory while their proxies
# run the jobs (the proxy makes no GPU call); and the rules of auto and of the default. The full set with ranks of
# separate processes, which time-slice the GPU at every step, is an extra step at the end.
step device_steps 60 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/device_steps_test" \
  --gtest_filter='*ThreadsOfOneProcess*:*PageableMemory*:*Auto*:*ReduceOnTheCpuByDefault*' || true

# The quick CPU subset: the unit tests (seconds; no plan simulator, multi-process, multi-host or perf runs).
for t in cpu_reduce_test float_formats_test config_selector_test bootstrap_test shm_transport_test; do
  if [ -x "$build/tests/$t" ]; then step "$t" 30 "$build/tests/$t" || true; fi
done

# sweep LABEL: one all_reduce_perf sweep (see sweep_ranks above for the labels). At MIXCCL_DEBUG=INFO each rank logs
# at teardown where its time went, by size: "staged jobs of [8 B, 16 B): ..." (the wait for the stream's copies in,
# and the host's run), or "device steps: ...".
# An extra sweep that fails or runs out of time marks its family (the label without its rank count: "thrf", "sh")
# as broken, and the family's later extra sweeps are skipped: each would likely spend its whole limit the same way.
broken_families=" "
sweep() {
  local n="$1" ipc procs threads round steps largest chunk pieces fused shared family="${1#"$(label_ranks "$1")"}" rc=0
  if [ -n "${optional:-}" ] && [[ "$broken_families" == *" $family "* ]]; then
    add_row "perf_sweep_N$n" skip 0 \
      "an earlier '$family' sweep failed, timed out or found no time left (an extra step: not a failure)"
    return 0
  fi
  ipc=0 procs="$(label_ranks "$n")" threads=1 round=4M steps=0 largest=256M chunk=128K pieces=0 fused=0 shared=0
  [[ "$n" == *ipc* || "$n" == *thr* ]] && ipc=1
  [[ "$n" == *dev* ]] && steps=1 ipc=0
  # A GPU and a proxy hand-off per chunk step (see the labels above).
  [[ "$n" == *dev* ]] && largest=8M
  [[ "$n" == *thr* ]] && threads="$procs" procs=1
  [[ "$n" =~ r([0-9]+[KMG])$ ]] && round="${BASH_REMATCH[1]}"
  [[ "$n" =~ c([0-9]+[KMG])$ ]] && chunk="${BASH_REMATCH[1]}"
  [[ "$n" =~ p([0-9]+[KMG])$ ]] && pieces="${BASH_REMATCH[1]}"
  [[ "$n" == *f ]] && fused=1
  [[ "$n" == *sh ]] && shared=1
  expect='^# memory: cuda' step "perf_sweep_N$n" 60 env MIXCCL_GPU_IPC="$ipc" MIXCCL_GPU_IPC_CHUNK_BYTES="$round" \
    MIXCCL_DEVICE_STEPS="$steps" MIXCCL_CHUNK_BYTES="$chunk" MIXCCL_SHM_SLOT_BYTES="$chunk" \
    MIXCCL_STAGED_PIECE_BYTES="$pieces" MIXCCL_GPU_IPC_FUSED="$fused" MIXCCL_SHARED_REDUCE="$shared" \
    MIXCCL_DEBUG=INFO \
    "$build/perf/all_reduce_perf" -N "$procs" -t "$threads" -b 8 -e "$largest" -f 2 -d float -o sum -n 5 -w 2 \
    --memory device --json "$logs/perf_sweep_N$n.json" || rc=$?
  if [ -n "${optional:-}" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then broken_families+="$family "; fi
}

# The fused kernels of two ranks on two streams, on the device, before their sweeps; and a fused direct round behind
# a kernel whose blocks each need a whole multiprocessor (a deadlock ends that test after 20 s). Collectives that meet
# in one shared host segment (core/shared_reduce.h), before their sweeps: exact (all-reduce, reduce-scatter,
# all-gather, broadcast, reduce), straight through the registered segment, host and device buffers in issue order, a
# lost rank; its abort and shrink tests (25 s of waiting for a hung rank) run among the extra steps. Then the sweeps
# of the perf table, the host engine alone, then the extra sweeps.
step gpu_backend_fused 45 "$build/tests/gpu_backend_test" --gtest_filter='*Fused*-*/hip' || true
step shared_reduce 60 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/shared_reduce_test" --gtest_filter="-$shared_waits" ||
  true
for n in "${sweep_main[@]}"; do sweep "$n"; done
# The host engine alone on this machine's CPUs (host buffers, 4 ranks): the share of the staged path's time that
# is not the GPU's.
expect='^# memory: host' step perf_host_N4 60 "$build/perf/all_reduce_perf" -N 4 -b 8 -e 64M -f 4 -d float -o sum \
  -n 5 -w 2 --memory host || true
# The same through the shared segment (MIXCCL_SHARED_REDUCE=1; host ranks meet there on the calling thread): whether
# it beats the host engine on this machine's many cores too, as it did with 4 ranks on the 2-core VM (perf/RESULTS.md).
expect='^# memory: host' optional=1 step perf_host_N4sh 60 env MIXCCL_SHARED_REDUCE=1 "$build/perf/all_reduce_perf" \
  -N 4 -b 8 -e 64M -f 4 -d float -o sum -n 5 -w 2 --memory host || true


# Small copies alone and beside another process's stream that waits for a flag (a staged rank's stream waits so):
# whether their latency explains the staged rows of 8 B..1 KiB (190-260 us for 2 processes in run 5, 31 us at 2 KiB).
optional=1 step copy_latency 20 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/copy_latency_probe" || true
optional=1 step copy_latency_kernel_wait 20 env MIXCCL_TEST_REAL_GPU=1 MIXCCL_STREAM_WAIT=kernel \
  "$build/tests/copy_latency_probe" || true

if [ "${#sweep_extra[@]}" -gt 0 ]; then
  # Ranks of one process on ONE stream: in a group (forked into a stream per rank), and outside one (refused); and
  # one rank's abort told to the others.
  optional=1 step process_ranks 60 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/process_ranks_test" || true
fi
for n in ${sweep_extra[@]+"${sweep_extra[@]}"}; do optional=1 sweep "$n"; done

if [ "${#sweep_extra[@]}" -gt 0 ]; then
  # PyTorch DDP with gpu_ipc forced on for its processes (by default they meet in the shared segment), against the
  # gloo curves kept above.
  if [ "$have_torch" = 1 ]; then
    optional=1 step torch_ddp_ipc 150 env MIXCCL_GPU_IPC=1 MIXCCL_TORCH_REFERENCE_DIR="$logs/torch-reference" \
      "$root/tests/frameworks/run_torch_ddp.sh" "$build" 2 4 || true
  fi
  optional=1 step shared_reduce_aborts 60 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/shared_reduce_test" \
    --gtest_filter="$shared_waits" || true
  # Device steps forced on for ranks of separate processes sharing the GPU without MPS, where every step waits for a
  # context switch (on the H200, with the proxy launching the kernels, 4 processes did not finish these in 60 s).
  optional=1 step device_steps_processes 60 env MIXCCL_TEST_REAL_GPU=1 "$build/tests/device_steps_test" \
    --gtest_filter='-*ThreadsOfOneProcess*:*PageableMemory*:*Auto*:*ReduceOnTheCpuByDefault*' || true
  optional=1 step staged_device_steps 60 env MIXCCL_TEST_REAL_GPU=1 MIXCCL_DEVICE_STEPS=1 MIXCCL_TEST_RANK_COUNTS="2" \
    "$build/tests/staged_device_test" || true
fi

exit "$status"

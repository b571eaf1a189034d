#!/usr/bin/env bash
# The host's own cost of a staged collective on device buffers (an all-reduce unless --coll says otherwise), three
# ways, on a machine without a GPU: ranks on the
# emulated GPU (perf/tests/perf_emulated_gpu.cc) with no delay per stream operation, so every "copy" is a memcpy on
# a stream thread and the times are the CPU and memory work the staged path needs besides PCIe:
#   whole   the default staged path (whole buffers to pinned memory, the host engine's algorithm, whole buffers back)
#   pieces  the same cut into 4 MiB pieces that pipeline (MIXCCL_STAGED_PIECE_BYTES=4M; all-reduce, broadcast and
#           reduce only: for the others the column is "-")
#   shared  the collectives meeting in one shared segment (MIXCCL_SHARED_REDUCE=1, 4 MiB slots; core/shared_reduce.h)
# With --memory host the ranks have no GPU and host buffers (the perf tools themselves): "whole" is then the host
# engine's algorithms, "shared" the same segment (there is no "pieces").
# The configurations alternate within each round (rounds are repeated; the median is printed), so a busy machine
# slows all of them alike. Prints the out-of-place time per call (us) and whole/shared, pieces/shared.
# Usage: perf/shared_reduce_host_cost.sh [--coll all_reduce|reduce_scatter|all_gather|broadcast|reduce] [--ranks 2]
#                                        [--memory device|host] [--build-dir build] [--rounds 3] [--min 1M] [--max 64M]
# (Sizes are those of the perf tools: the bytes of a rank's receive buffer for all-gather, of its send buffer for
# reduce-scatter.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
coll=all_reduce
memory=device
ranks=2
build="$root/build"
rounds=3
min=1M
max=64M
while [ $# -gt 0 ]; do
  case "$1" in
    --coll) coll="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --min) min="$2"; shift 2 ;;
    --max) max="$2"; shift 2 ;;
    *) echo "usage: $0 [--coll NAME] [--ranks N] [--build-dir DIR] [--rounds R] [--min SIZE] [--max SIZE]" >&2
       exit 2 ;;
  esac
done
configs=(whole pieces shared)
case "$coll" in
  all_reduce | broadcast | reduce) ;;
  all_gather | reduce_scatter) configs=(whole shared) ;;
  *) echo "$0: --coll $coll: must be all_reduce, reduce_scatter, all_gather, broadcast or reduce" >&2; exit 2 ;;
esac
case "$memory" in
  device) tool=("$build/perf/perf_emulated_gpu" "${coll}_perf") ;;
  host) tool=("$build/perf/${coll}_perf"); configs=(whole shared) ;;
  *) echo "$0: --memory $memory: must be device or host" >&2; exit 2 ;;
esac
[ -x "${tool[0]}" ] || { echo "cannot run: ${tool[0]} is not built (configure with tests on)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# run CONFIG ROUND: one sweep into $out/CONFIG.ROUND; exits on a wrong result or a failed run.
run() {
  local -a env=(MIXCCL_TEST_EMULATED_DELAY_US=0 MIXCCL_GPU_IPC=0)
  case "$1" in
    whole) ;;
    pieces) env+=(MIXCCL_STAGED_PIECE_BYTES=4M) ;;
    shared) env+=(MIXCCL_SHARED_REDUCE=1 MIXCCL_SHARED_REDUCE_SLOT_BYTES=4M) ;;
  esac
  if ! env "${env[@]}" "${tool[@]}" -N "$ranks" -b "$min" -e "$max" -f 4 -d float -o sum -n 5 -w 2 \
    --memory "$memory" >"$out/$1.$2" 2>&1; then
    echo "the $1 sweep failed:" >&2
    tail -5 "$out/$1.$2" >&2
    exit 1
  fi
}

for ((r = 0; r < rounds; r++)); do
  for c in "${configs[@]}"; do run "$c" "$r"; done
done

where="on the emulated GPU without delay"
[ "$memory" = host ] && where="without a GPU"
echo "# $coll on $memory buffers, float sum, $ranks ranks $where, $rounds rounds (median)"
echo "# out-of-place time per call (us); ratios against shared"
printf '%12s %12s %12s %12s %14s %14s\n' bytes whole pieces shared whole/shared pieces/shared
# The out-of-place time (column 6) of each size, median over the rounds, per configuration.
for c in "${configs[@]}"; do
  cat "$out/$c".* | awk -v c="$c" '$1 ~ /^[0-9]+$/ && NF >= 13 { print c, $1, $6 }'
done | sort -k1,1 -k2,2n -k3,3g | awk '
  { key = $1 " " $2; v[key, ++n[key]] = $3; sizes[$2] = 1 }
  END {
    for (k in n) { m = n[k]; med[k] = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2 }
    for (s in sizes) {
      w = med["whole " s]; sh = med["shared " s]
      if (("pieces " s) in med) {
        p = med["pieces " s]
        printf "%12d %12.1f %12.1f %12.1f %14.2f %14.2f\n", s, w, p, sh, (sh > 0 ? w / sh : 0), (sh > 0 ? p / sh : 0)
      } else {
        printf "%12d %12.1f %12s %12.1f %14.2f %14s\n", s, w, "-", sh, (sh > 0 ? w / sh : 0), "-"
      }
    }
  }' | sort -n

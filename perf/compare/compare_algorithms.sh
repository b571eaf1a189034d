#!/usr/bin/env bash
# compare_algorithms.sh: one collective with two algorithm settings, alternately, in one run.
#
#   perf/compare/compare_algorithms.sh [--coll all_reduce] [--ranks 8] [--min 8] [--max 64K] [--iters 200]
#                                      [--a ring] [--b auto] [--repeat 5] [--build-dir build]
#
# Each setting is a MIXCCL_ALGO value for that collective ("auto" = the selector's choice). Runs
# build/perf/<coll>_perf -N RANKS for setting a, then b, REPEAT times, and prints per size the median
# out-of-place time of each, the algorithm the selector chose (from MIXCCL_DEBUG=TRACE of one extra run), and
# a / b (> 1: b is faster). Every run checks its results (-c 1); a wrong element aborts the comparison.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
coll=all_reduce
ranks=8
min=8
max=64K
iters=200
a=ring
b=auto
repeat=5
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --coll) coll="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --min) min="$2"; shift 2 ;;
    --max) max="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --a) a="$2"; shift 2 ;;
    --b) b="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
tool="$build/perf/${coll}_perf"
[ -x "$tool" ] || { echo "no $tool: build first (scripts/setup.sh)" >&2; exit 1; }
key="${coll//_/}"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

run() {  # SETTING: appends "setting size time_us" lines
  local setting="$1" algo=""
  [ "$setting" != auto ] && algo="$key=$setting"
  MIXCCL_ALGO="$algo" "$tool" -N "$ranks" -b "$min" -e "$max" -f 2 -n "$iters" -w 20 -c 1 >"$results.out" 2>&1 ||
    { cat "$results.out"; exit 1; }
  grep -E '^ +[0-9]' "$results.out" | awk -v s="$setting" '{ if ($9 != "0") { print "wrong results:", $0; exit 1 }
                                                               print s, $1, $6 }' >>"$results"
}

echo "## $coll, $ranks ranks on this host: $a vs $b (median of $repeat alternating runs, $iters iterations each)"
for (( r = 0; r < repeat; r++ )); do run "$a"; run "$b"; done
# Which algorithm the selector picks per size (one traced run of a single iteration).
MIXCCL_DEBUG=TRACE MIXCCL_ALGO="" "$tool" -N "$ranks" -b "$min" -e "$max" -f 2 -n 1 -w 0 -c 0 2>&1 |
  awk '/elements: / && / \(modelled/ { for (i = 1; i <= NF; i++) if ($i == "of") { n = $(i + 1); algo = $(i + 3) }
                                        sub(":", "", algo); chosen[n] = algo }
       END { for (n in chosen) print "chosen", n, chosen[n] }' >>"$results" || true
rm -f "$results.out"
awk -v a="$a" -v b="$b" -v esz=4 '
  $1 == "chosen" { chosen[$2 * esz] = $3; next }
  { t[$1, $2] = t[$1, $2] " " $3; sizes[$2] = 1 }
  function median(list,   v, n, i, j, x) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  END {
    printf "%10s %12s %12s %14s %8s\n", "bytes", a " us", b " us", "auto picks", a "/" b
    for (s in sizes) {
      ta = median(t[a, s]); tb = median(t[b, s])
      printf "%10d %12.2f %12.2f %14s %8.2f\n", s, ta, tb, (s in chosen) ? chosen[s] : "?", ta / tb
    }
  }' "$results" | sort -n

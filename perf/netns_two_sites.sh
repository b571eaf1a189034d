#!/usr/bin/env bash
# Hierarchical against flat ring all-reduce across two "sites": 2 sites x 2 hosts (network namespaces), each
# host's egress capped at SITE_RATE, the two site bridges joined by one link capped at WAN_RATE each way
# (SITE_RATE = 10 x WAN_RATE by default). Ranks 0,1 are site a, ranks 2,3 site b (MIXCCL_SITE); the two
# algorithms run alternately, --repeat times, in one invocation. Needs root. Usage:
#   perf/netns_two_sites.sh [--wan 200mbit] [--ratio 10] [--sizes "16M 64M"] [--repeat 3] [--build-dir build]
#                           [--hosts-per-site 2] [--algos "ring hierarchical"]
# Prints per size: the median out-of-place time of each algorithm, ring / hierarchical, and hierarchical against
# the WAN bound. The bound: the other site must receive every one of the S bytes of the vector (its partial
# sums), so S bytes cross the WAN in each direction: S / (WAN_RATE / 8) seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wan=200mbit
ratio=10
sizes="16M 64M"
repeat=3
per=2
algos="ring hierarchical"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --wan) wan="$2"; shift 2 ;;
    --ratio) ratio="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --hosts-per-site) per="$2"; shift 2 ;;
    --algos) algos="$2"; shift 2 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    *) echo "usage: $0 [--wan R] [--ratio K] [--sizes \"16M 64M\"] [--repeat N] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
# shellcheck source=../tests/netns/netns_lib.sh
. "$root/tests/netns/netns_lib.sh"
if ! why="$(netns_can_run)"; then echo "cannot run: $why" >&2; exit 1; fi
case "$wan" in
  *mbit) wanBits=$(( ${wan%mbit} * 1000000 )) ;;
  *gbit) wanBits=$(( ${wan%gbit} * 1000000000 )) ;;
  *) echo "--wan must be <n>mbit or <n>gbit" >&2; exit 2 ;;
esac
siteRate="$(( wanBits * ratio / 1000000 ))mbit"
netns_setup_sites 2 "$per" "$siteRate" "$wan"
ranks=$(( 2 * per ))
port=$(( 23000 + $$ % 20000 ))
results="$(mktemp)"
trap 'rm -f "$results"; netns_cleanup' EXIT

# One all_reduce_perf run of every size with algorithm $1; appends "algo size time_us" lines to $results.
run_algo() {
  local algo="$1" size out i pids=()
  port=$(( port + 2 ))
  out="$(mktemp)"
  for (( i = 0; i < ranks; i++ )); do
    local log=/dev/null
    [ "$i" = 0 ] && log="$out"
    ip netns exec "$(netns_name "$i")" env RANK="$i" WORLD_SIZE="$ranks" MASTER_ADDR="$(netns_addr 0)" \
      MASTER_PORT="$port" MIXCCL_SITE="$([ "$i" -lt "$per" ] && echo a || echo b)" MIXCCL_ALGO="allreduce=$algo" \
      MIXCCL_SOCKET_IFNAME="=$(netns_iface "$i")" UCX_TLS=tcp,self UCX_NET_DEVICES="$(netns_iface "$i")" \
      MIXCCL_OFI_PROVIDER=tcp FI_TCP_IFACE="$(netns_iface "$i")" \
      timeout 900 "$build/perf/all_reduce_perf" $(for size in $sizes; do echo "-b $size"; break; done) \
      -e "$(echo "$sizes" | awk '{print $NF}')" -f 4 -n 3 -w 1 -c 1 >"$log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "# a rank failed ($algo)"; cat "$out"; }; done
  grep -E '^ +[0-9]' "$out" | awk -v a="$algo" '{ if ($9 != "0") print "# WRONG results:", $0 > "/dev/stderr";
                                                  print a, $1, $6 }' >>"$results"
  rm -f "$out"
}

echo "## all-reduce, 2 sites x $per namespaces: hosts capped at $siteRate, the WAN at $wan each way"
for (( r = 0; r < repeat; r++ )); do
  for algo in $algos; do run_algo "$algo"; done
done
awk -v wanBytes="$(( wanBits / 8 ))" '
  { t[$1, $2] = t[$1, $2] " " $3; sizes[$2] = 1 }
  function median(list,   a, n, i, j, x) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%12s %14s %14s %12s %12s %14s\n", "bytes", "ring us", "hier us", "ring/hier", "bound us", "hier/bound"
    for (s in sizes) {
      ring = median(t["ring", s]); hier = median(t["hierarchical", s]); bound = s / wanBytes * 1e6
      printf "%12d %14.0f %14.0f %12.2f %12.0f %14.2f\n", s, ring, hier, ring / hier, bound, hier / bound
    }
  }' "$results" | sort -n

#!/usr/bin/env bash
# All-reduce between N "hosts" (network namespaces behind a bridge) whose links are capped with tc tbf, over each
# network transport built in: busbw against the cap. Needs root. Usage:
#   perf/netns_rate_cap.sh [--rate 1gbit] [--ranks 2] [--build-dir build] [--sizes "1M 4M 16M 64M"]
#                          [--seconds 10] [--transports ucx,ofi]
# Each size runs as its own all_reduce_perf with enough timed iterations for about --seconds of traffic at the cap
# (at least 10; out-of-place and in-place each), so the tbf burst (256 KiB) and one slow iteration on a busy machine
# weigh little. Prints, per transport and size, "busbw / cap" from the out-of-place time. The cap in bytes/s is
# rate/8.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rate=1gbit
ranks=2
build="$root/build"
sizes="1M 4M 16M 64M"
seconds=10
transports=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --transports) transports="$2"; shift 2 ;;
    *) echo "usage: $0 [--rate R] [--ranks N] [--build-dir DIR] [--sizes \"S ...\"] [--seconds T] [--transports a,b]" >&2
       exit 2 ;;
  esac
done
[ -n "$transports" ] || transports="$("$build/tools/mixccl-info" --transports)"
# shellcheck source=../tests/netns/netns_lib.sh
. "$root/tests/netns/netns_lib.sh"
if ! why="$(netns_can_run)"; then echo "cannot run: $why" >&2; exit 1; fi
case "$rate" in
  *gbit) capBytes=$(( ${rate%gbit} * 1000000000 / 8 )) ;;
  *mbit) capBytes=$(( ${rate%mbit} * 1000000 / 8 )) ;;
  *) echo "rate must be <n>gbit or <n>mbit" >&2; exit 2 ;;
esac
netns_setup "$ranks" "$rate"
port=$(( 21000 + $$ % 20000 ))
for transport in $(echo "$transports" | tr ',' ' '); do
  [ "$transport" = shm ] && continue
  echo "## $transport: all-reduce, $ranks namespaces, egress capped at $rate ($capBytes B/s)"
  for size in $sizes; do
    bytes=$(numfmt --from=iec "$size")
    # Iterations for ~$seconds at the cap: one all-reduce moves bytes x 2(n-1)/n through each link.
    iters=$(awk -v b="$bytes" -v n="$ranks" -v cap="$capBytes" -v t="$seconds" 'BEGIN {
      i = int(t * cap / (b * 2 * (n - 1) / n) + 0.999); print (i < 10 ? 10 : i) }')
    port=$(( port + 2 ))
    out="$(mktemp)"
    pids=()
    for (( i = 0; i < ranks; i++ )); do
      log=/dev/null
      [ "$i" = 0 ] && log="$out"
      ip netns exec "$(netns_name "$i")" env RANK="$i" WORLD_SIZE="$ranks" MASTER_ADDR="$(netns_addr 0)" \
        MASTER_PORT="$port" MIXCCL_TRANSPORTS="$transport" MIXCCL_SOCKET_IFNAME="=$(netns_iface "$i")" \
        UCX_TLS=tcp,self UCX_NET_DEVICES="$(netns_iface "$i")" MIXCCL_OFI_PROVIDER=tcp \
        FI_TCP_IFACE="$(netns_iface "$i")" \
        timeout 900 "$build/perf/all_reduce_perf" -b "$size" -e "$size" -n "$iters" -w 2 -c 0 >"$log" 2>&1 &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || echo "# a rank failed ($transport, $size)"; done
    # busbw from the out-of-place time (more digits than the printed busbw): bytes / time x 2(n-1)/n.
    grep -E '^ +[0-9]' "$out" | awk -v cap="$capBytes" -v n="$ranks" -v it="$iters" '{
      bw = $1 / ($6 * 1e-6) * 2 * (n - 1) / n
      printf "%12s bytes  %4d iters  time %10s us  busbw %7.4f GB/s  = %.3f x cap\n", $1, it, $6, bw / 1e9, bw / cap }'
    rm -f "$out"
  done
done

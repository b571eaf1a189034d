#!/usr/bin/env bash
# All-reduce between N "hosts" (network namespaces behind a bridge) whose links are capped with tc tbf, over each
# network transport built in: busbw against the cap. Needs root. Usage:
#   perf/netns_rate_cap.sh [--rate 1gbit] [--ranks 2] [--build-dir build] [--max 64M]
# Prints, per transport, the nccl-tests rows and "busbw / cap" for each size. The cap in bytes/s is rate/8.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rate=1gbit
ranks=2
build="$root/build"
max=64M
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    --max) max="$2"; shift 2 ;;
    *) echo "usage: $0 [--rate R] [--ranks N] [--build-dir DIR] [--max SIZE]" >&2; exit 2 ;;
  esac
done
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
for transport in $("$build/tools/mixccl-info" --transports | tr ',' ' '); do
  [ "$transport" = shm ] && continue
  port=$(( port + 2 ))
  out="$(mktemp)"
  pids=()
  for (( i = 0; i < ranks; i++ )); do
    log=/dev/null
    [ "$i" = 0 ] && log="$out"
    ip netns exec "$(netns_name "$i")" env RANK="$i" WORLD_SIZE="$ranks" MASTER_ADDR="$(netns_addr 0)" \
      MASTER_PORT="$port" MIXCCL_TRANSPORTS="$transport" MIXCCL_SOCKET_IFNAME="=$(netns_iface "$i")" \
      UCX_TLS=tcp,self UCX_NET_DEVICES="$(netns_iface "$i")" MIXCCL_OFI_PROVIDER=tcp FI_TCP_IFACE="$(netns_iface "$i")" \
      timeout 600 "$build/perf/all_reduce_perf" -b 1M -e "$max" -f 4 -n 5 -w 1 -c 0 >"$log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || echo "# a rank failed ($transport)"; done
  echo "## $transport: all-reduce, $ranks namespaces, egress capped at $rate ($capBytes B/s)"
  # busbw from the out-of-place time (more digits than the printed busbw): bytes / time x 2(n-1)/n.
  grep -E '^ +[0-9]' "$out" | awk -v cap="$capBytes" -v n="$ranks" '{
    bw = $1 / ($6 * 1e-6) * 2 * (n - 1) / n
    printf "%12s bytes  time %10s us  busbw %7.4f GB/s  = %.3f x cap\n", $1, $6, bw / 1e9, bw / cap }'
  rm -f "$out"
done

#!/usr/bin/env bash
# Network transports on loopback, in one run: the library's own point-to-point bandwidth (ucx_perftest tag_bw,
# fi_pingpong for the same provider) against mixccl all-reduce busbw with 2 ranks forced through that transport.
# Usage: perf/compare/compare_raw_transport.sh [--build-dir DIR] [--size 4M]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build"
size=4M
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--size SIZE]" >&2; exit 2 ;;
  esac
done
bytes=$(numfmt --from=iec "$size")
transports="$("$build/tools/mixccl-info" --transports)"

mixccl_busbw() {  # transport -> busbw GB/s (out-of-place, 2 ranks) at $size
  MIXCCL_TRANSPORTS="$1" UCX_TLS=tcp,self UCX_NET_DEVICES=lo MIXCCL_OFI_PROVIDER=tcp FI_TCP_IFACE=lo \
    "$build/perf/all_reduce_perf" -N 2 -b "$size" -e "$size" -n 20 -w 5 -c 0 | awk '/^ +[0-9]/ { print $8 }'
}

if [[ ",$transports," == *,ucx,* ]] && command -v ucx_perftest >/dev/null; then
  port=$(( 13000 + $$ % 1000 ))
  UCX_TLS=tcp,self UCX_NET_DEVICES=lo ucx_perftest -p "$port" >/dev/null 2>&1 &
  server=$!
  sleep 1
  raw=$(UCX_TLS=tcp,self UCX_NET_DEVICES=lo ucx_perftest 127.0.0.1 -p "$port" -t tag_bw -s "$bytes" -n 200 2>/dev/null |
        awk '/Final:/ { print $(NF-2) }')
  wait "$server" 2>/dev/null || true
  ours=$(mixccl_busbw ucx)
  # ucx_perftest prints MB/s (2^20 bytes): convert to GB/s (1e9 bytes) like nccl-tests.
  awk -v raw="$raw" -v ours="$ours" -v s="$size" 'BEGIN {
    r = raw * 1048576 / 1e9
    printf "ucx (tcp, lo)  %s: ucx_perftest tag_bw %.3f GB/s, mixccl all-reduce busbw %.3f GB/s, ratio %.2f\n", s, r, ours, ours / r }'
fi

if [[ ",$transports," == *,ofi,* ]] && command -v fi_pingpong >/dev/null; then
  port=$(( 47000 + $$ % 1000 ))
  fi_pingpong -p tcp -e rdm -B "$port" -S "$bytes" -I 50 >/dev/null 2>&1 &
  server=$!
  sleep 1
  raw=$(fi_pingpong -p tcp -e rdm -P "$port" -S "$bytes" -I 50 127.0.0.1 2>/dev/null | awk '/^[0-9]/ { print $(NF-2) }' | tail -1)
  wait "$server" 2>/dev/null || true
  ours=$(mixccl_busbw ofi)
  # fi_pingpong prints MB/s (1e6 bytes).
  awk -v raw="$raw" -v ours="$ours" -v s="$size" 'BEGIN {
    r = raw / 1000
    printf "ofi (tcp, lo)  %s: fi_pingpong %.3f GB/s, mixccl all-reduce busbw %.3f GB/s, ratio %.2f\n", s, r, ours, ours / r }'
fi

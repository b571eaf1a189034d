#!/usr/bin/env bash
# Network transports on loopback, in one run: the library's own point-to-point bandwidth (ucx_perftest tag_bw,
# fi_pingpong for the same provider) against mixccl all-reduce busbw with 2 ranks forced through that transport.
# Two peer columns per transport:
#   one-way   one instance of the raw tool (the peer named by issue 3);
#   two-way   two instances at once, one per direction of the all-reduce (each of its 2 ranks sends and receives
#             at the same time), the mean of their rates: what the machine gives each direction when both are busy,
#             as they are during an all-reduce (on a 2-core machine the 4 raw processes share the cores).
# For 2 ranks busbw = algbw = bytes each rank sends per second, so both ratios compare rates per direction.
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
    "$build/perf/all_reduce_perf" -N 2 -b "$size" -e "$size" -n 40 -w 5 -c 0 | awk '/^ +[0-9]/ { print $8 }'
}

ucx_pair() {  # PORT -> ucx_perftest tag_bw MB/s (2^20 B/s) of one client/server pair at $bytes
  UCX_TLS=tcp,self UCX_NET_DEVICES=lo ucx_perftest -p "$1" >/dev/null 2>&1 &
  local server=$!
  sleep 1
  UCX_TLS=tcp,self UCX_NET_DEVICES=lo ucx_perftest 127.0.0.1 -p "$1" -t tag_bw -s "$bytes" -n 200 2>/dev/null |
    awk '/Final:/ { print $(NF-2) }'
  wait "$server" 2>/dev/null || true
}

ofi_pair() {  # PORT -> fi_pingpong MB/s (1e6 B/s) of one client/server pair at $bytes
  fi_pingpong -p tcp -e rdm -B "$1" -S "$bytes" -I 50 >/dev/null 2>&1 &
  local server=$!
  sleep 1
  fi_pingpong -p tcp -e rdm -P "$1" -S "$bytes" -I 50 127.0.0.1 2>/dev/null | awk '/^[0-9]/ { print $(NF-2) }' | tail -1
  wait "$server" 2>/dev/null || true
}

two_way() {  # FUNCTION PORT -> mean rate of two pairs run at once (the function's unit)
  local a b
  a="$(mktemp)"; b="$(mktemp)"
  "$1" "$2" >"$a" &
  local p1=$!
  "$1" $(( $2 + 1 )) >"$b" &
  local p2=$!
  wait "$p1" "$p2" || true
  cat "$a" "$b" | awk '{ s += $1; n++ } END { if (n == 2) printf "%.2f\n", s / 2; else print "nan" }'
  rm -f "$a" "$b"
}

report() {  # NAME TOOL ONE_WAY_GBS TWO_WAY_GBS OURS
  awk -v name="$1" -v tool="$2" -v one="$3" -v two="$4" -v ours="$5" -v s="$size" 'BEGIN {
    printf "%s %s: %s one-way %.3f GB/s, two-way %.3f GB/s per direction; mixccl all-reduce busbw %.3f GB/s; " \
           "ratio %.2f of one-way, %.2f of two-way\n", name, s, tool, one, two, ours, ours / one, ours / two }'
}

if [[ ",$transports," == *,ucx,* ]] && command -v ucx_perftest >/dev/null; then
  port=$(( 13000 + $$ % 1000 ))
  one=$(ucx_pair "$port")
  two=$(two_way ucx_pair $(( port + 2 )))
  ours=$(mixccl_busbw ucx)
  # ucx_perftest prints MB/s (2^20 bytes): convert to GB/s (1e9 bytes) like nccl-tests.
  report "ucx (tcp, lo)" "ucx_perftest tag_bw" "$(awk -v r="$one" 'BEGIN { print r * 1048576 / 1e9 }')" \
    "$(awk -v r="$two" 'BEGIN { print r * 1048576 / 1e9 }')" "$ours"
fi

if [[ ",$transports," == *,ofi,* ]] && command -v fi_pingpong >/dev/null; then
  port=$(( 47000 + $$ % 1000 ))
  one=$(ofi_pair "$port")
  two=$(two_way ofi_pair $(( port + 2 )))
  ours=$(mixccl_busbw ofi)
  # fi_pingpong prints MB/s (1e6 bytes) of the bytes it moved both ways, one message in flight at a time.
  report "ofi (tcp, lo)" "fi_pingpong -e rdm" "$(awk -v r="$one" 'BEGIN { print r / 1000 }')" \
    "$(awk -v r="$two" 'BEGIN { print r / 1000 }')" "$ours"
fi

#!/usr/bin/env bash
# Multi-host test: N ranks, each in its own network namespace (a separate "host" to mixccl), run every collective
# over each network transport built in (ucx, ofi), checked exactly by the perf tools (they exit non-zero on any
# wrong element). Namespaces are removed whatever happens. Exit 77 (ctest: skipped) with the reason printed when
# namespaces cannot be created or no network transport is built.
# Usage: run_netns_test.sh BUILD_DIR [NRANKS]
set -euo pipefail
build="$(cd "$1" && pwd)"
nranks="${2:-3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=netns_lib.sh
. "$here/netns_lib.sh"

if ! why="$(netns_can_run)"; then echo "SKIPPED: $why"; exit 77; fi
transports="$("$build/tools/mixccl-info" --transports 2>/dev/null | tr ',' ' ')"
network=()
for t in $transports; do [ "$t" = shm ] || network+=("$t"); done
if [ ${#network[@]} -eq 0 ]; then echo "SKIPPED: this build has no network transport (built: ${transports:-?})"; exit 77; fi

netns_setup "$nranks"
port=$(( 20000 + $$ % 20000 ))
failures=0
for transport in "${network[@]}"; do
  for tool in all_reduce_perf all_gather_perf reduce_scatter_perf broadcast_perf; do
    port=$(( port + 2 ))
    pids=()
    logs=()
    for (( i = 0; i < nranks; i++ )); do
      log="$(mktemp)"
      logs+=("$log")
      ip netns exec "$(netns_name "$i")" env RANK="$i" WORLD_SIZE="$nranks" MASTER_ADDR="$(netns_addr 0)" \
        MASTER_PORT="$port" MIXCCL_TRANSPORTS="$transport" MIXCCL_TIMEOUT=60 \
        MIXCCL_SOCKET_IFNAME="=$(netns_iface "$i")" UCX_TLS=tcp,self UCX_NET_DEVICES="$(netns_iface "$i")" \
        MIXCCL_OFI_PROVIDER=tcp FI_TCP_IFACE="$(netns_iface "$i")" \
        timeout 300 "$build/perf/$tool" -b 8 -e 4M -f 16 -d float -o all -n 2 -w 1 >"$log" 2>&1 &
      pids+=($!)
    done
    ok=1
    for (( i = 0; i < nranks; i++ )); do
      if ! wait "${pids[$i]}"; then ok=0; fi
    done
    if [ $ok = 1 ]; then
      echo "PASS $transport $tool on $nranks namespaces ($(grep -c '^ *[0-9]' "${logs[0]}") rows)"
    else
      failures=$(( failures + 1 ))
      echo "FAIL $transport $tool on $nranks namespaces"
      for (( i = 0; i < nranks; i++ )); do echo "--- rank $i"; tail -15 "${logs[$i]}"; done
    fi
    rm -f "${logs[@]}"
  done
done
[ $failures = 0 ]

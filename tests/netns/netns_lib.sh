# Helpers for tests that run mixccl ranks as separate "hosts": network namespaces joined by veth pairs to a bridge
# that lives in a namespace of its own, so every address exists only inside namespaces this script made.
# Source it; call netns_setup N [RATE] and rely on the EXIT trap (netns_cleanup) to remove everything.
#
#   host i: namespace ${NETNS_PREFIX}h$i, interface mx$i, address 10.231.$NETNS_SUBNET.(i+1)/24
#   bridge: namespace ${NETNS_PREFIX}br, bridge br0 with the peer ends of every veth pair
# RATE (e.g. 1gbit) caps each host's egress with tc tbf.

NETNS_PREFIX="mx$$"
NETNS_SUBNET=$(( $$ % 250 + 1 ))
NETNS_HOSTS=0

netns_can_run() {  # prints why not and returns 1 when namespaces cannot be made here
  if [ "$(id -u)" != 0 ]; then echo "needs root to create network namespaces"; return 1; fi
  if ! command -v ip >/dev/null; then echo "needs iproute2 (ip)"; return 1; fi
  if ! ip netns add "${NETNS_PREFIX}probe" 2>/dev/null; then echo "ip netns add is not permitted here"; return 1; fi
  ip netns del "${NETNS_PREFIX}probe"
  return 0
}

netns_addr() { echo "10.231.${NETNS_SUBNET}.$(( $1 + 1 ))"; }
netns_name() { echo "${NETNS_PREFIX}h$1"; }
netns_iface() { echo "mx$1"; }

netns_cleanup() {
  local i
  for (( i = 0; i < NETNS_HOSTS; i++ )); do ip netns del "$(netns_name "$i")" 2>/dev/null || true; done
  ip netns del "${NETNS_PREFIX}br" 2>/dev/null || true
  # Nothing of ours may survive: report leftovers loudly.
  if ip netns list 2>/dev/null | grep -q "^${NETNS_PREFIX}"; then echo "netns: could not remove all namespaces" >&2; fi
}

netns_setup() {  # N [RATE]
  local n="$1" rate="${2:-}" i ns
  trap netns_cleanup EXIT
  ip netns add "${NETNS_PREFIX}br"
  ip -n "${NETNS_PREFIX}br" link add br0 type bridge
  ip -n "${NETNS_PREFIX}br" link set br0 up
  for (( i = 0; i < n; i++ )); do
    ns="$(netns_name "$i")"
    ip netns add "$ns"
    NETNS_HOSTS=$(( i + 1 ))
    ip link add "$(netns_iface "$i")" netns "$ns" type veth peer name "p$i" netns "${NETNS_PREFIX}br"
    ip -n "${NETNS_PREFIX}br" link set "p$i" master br0 up
    ip -n "$ns" addr add "$(netns_addr "$i")/24" dev "$(netns_iface "$i")"
    ip -n "$ns" link set "$(netns_iface "$i")" up
    ip -n "$ns" link set lo up
    if [ -n "$rate" ]; then
      ip netns exec "$ns" tc qdisc add dev "$(netns_iface "$i")" root tbf rate "$rate" burst 256kb latency 50ms
    fi
  done
}

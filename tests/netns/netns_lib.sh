# Helpers for tests that run mixccl ranks as separate "hosts": network namespaces joined by veth pairs to a bridge
# that lives in a namespace of its own, so every address exists only inside namespaces this script made.
# Source it; call netns_setup N [RATE] (or netns_setup_sites) and rely on the EXIT trap (netns_cleanup) to remove
# everything.
#
#   host i: namespace ${NETNS_PREFIX}h$i, interface mx$i, address 10.231.$NETNS_SUBNET.(i+1)/24
#   bridge: namespace ${NETNS_PREFIX}br, bridge br0 with the peer ends of every veth pair
# RATE (e.g. 1gbit) caps each host's egress with tc tbf.
#
# netns_setup_sites SITES HOSTS_PER_SITE SITE_RATE WAN_RATE: one bridge namespace per site
# (${NETNS_PREFIX}br$s), hosts numbered site by site; every host's egress capped at SITE_RATE; the site bridges
# chained by veth pairs whose both ends are capped at WAN_RATE, so traffic between sites crosses one shared,
# slower link per direction.

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
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NETNS_PREFIX}"); do
    ip netns del "$ns" 2>/dev/null || true
  done
  # Nothing of ours may survive: report leftovers loudly.
  if ip netns list 2>/dev/null | grep -q "^${NETNS_PREFIX}"; then echo "netns: could not remove all namespaces" >&2; fi
}

netns_bridge() {  # NAME: a namespace holding an up bridge br0
  ip netns add "$1"
  ip -n "$1" link add br0 type bridge
  ip -n "$1" link set br0 up
}

netns_cap() {  # NAMESPACE IFACE RATE: tc tbf on the interface's egress
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$3" burst 256kb latency 50ms
}

netns_add_host() {  # I BRIDGE_NAMESPACE [RATE]: host i, attached to that bridge
  local i="$1" br="$2" rate="${3:-}" ns
  ns="$(netns_name "$i")"
  ip netns add "$ns"
  NETNS_HOSTS=$(( i + 1 ))
  ip link add "$(netns_iface "$i")" netns "$ns" type veth peer name "p$i" netns "$br"
  ip -n "$br" link set "p$i" master br0 up
  ip -n "$ns" addr add "$(netns_addr "$i")/24" dev "$(netns_iface "$i")"
  ip -n "$ns" link set "$(netns_iface "$i")" up
  ip -n "$ns" link set lo up
  if [ -n "$rate" ]; then netns_cap "$ns" "$(netns_iface "$i")" "$rate"; fi
}

netns_setup() {  # N [RATE]
  local n="$1" rate="${2:-}" i
  trap netns_cleanup EXIT
  netns_bridge "${NETNS_PREFIX}br"
  for (( i = 0; i < n; i++ )); do netns_add_host "$i" "${NETNS_PREFIX}br" "$rate"; done
}

netns_setup_sites() {  # SITES HOSTS_PER_SITE SITE_RATE WAN_RATE
  local sites="$1" per="$2" siteRate="$3" wanRate="$4" s h
  trap netns_cleanup EXIT
  for (( s = 0; s < sites; s++ )); do
    netns_bridge "${NETNS_PREFIX}br$s"
    for (( h = 0; h < per; h++ )); do netns_add_host $(( s * per + h )) "${NETNS_PREFIX}br$s" "$siteRate"; done
    if (( s > 0 )); then
      # The WAN: bridge s-1 <-> bridge s, capped in both directions.
      ip link add "wan$s" netns "${NETNS_PREFIX}br$(( s - 1 ))" type veth peer name "wan$s" netns "${NETNS_PREFIX}br$s"
      ip -n "${NETNS_PREFIX}br$(( s - 1 ))" link set "wan$s" master br0 up
      ip -n "${NETNS_PREFIX}br$s" link set "wan$s" master br0 up
      netns_cap "${NETNS_PREFIX}br$(( s - 1 ))" "wan$s" "$wanRate"
      netns_cap "${NETNS_PREFIX}br$s" "wan$s" "$wanRate"
    fi
  done
}

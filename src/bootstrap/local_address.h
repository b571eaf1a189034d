#pragma once
// Which local address the bootstrap listens on and advertises to the other ranks.
#include <string>

#include "bootstrap/socket.h"
#include "core/status.h"

namespace mixccl::detail {

// MIXCCL_SOCKET_IFNAME, when set, is a comma-separated list of interface-name prefixes ("eth,ib"); a leading
// '^' excludes the listed prefixes instead ("^docker,veth"), a leading '=' asks for exact names ("=eth0").
// The first matching interface that is UP with an IPv4 address wins (else one with a global IPv6 address);
// loopback only when named. Unset: the first non-loopback interface that is UP with an IPv4 address, preferring
// any over docker*, veth* and virbr* (container bridges rarely reach other hosts), else 127.0.0.1. Port of *out is 0. Fails (mixcclInvalidUsage) when the variable matches no usable interface,
// listing the interfaces there are.
Result chooseLocalAddress(SockAddr* out);

// Pure matcher behind chooseLocalAddress, for tests: does interface `name` pass `spec`?
bool interfaceMatches(const std::string& spec, const std::string& name);

}  // namespace mixccl::detail

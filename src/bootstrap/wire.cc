#include "bootstrap/wire.h"

#include <arpa/inet.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace mixccl::detail {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void put64(uint8_t* p, uint64_t v) {
  put32(p, static_cast<uint32_t>(v >> 32));
  put32(p + 4, static_cast<uint32_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} << 16 | get16(p + 2); }
uint64_t get64(const uint8_t* p) { return uint64_t{get32(p)} << 32 | get32(p + 4); }

void encodeAddress(const SockAddr& addr, uint8_t* out) {
  memset(out, 0, kAddressBytes);
  if (addr.family() == AF_INET) {
    out[0] = 4;
    memcpy(out + 4, &reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr, 4);
  } else if (addr.family() == AF_INET6) {
    out[0] = 6;
    memcpy(out + 4, &reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_addr, 16);
  }
  put16(out + 2, addr.port());
}

bool decodeAddress(const uint8_t* in, SockAddr* out) {
  SockAddr a;
  if (in[0] == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    v4->sin_family = AF_INET;
    memcpy(&v4->sin_addr, in + 4, 4);
    a.len = sizeof(sockaddr_in);
  } else if (in[0] == 6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    v6->sin6_family = AF_INET6;
    memcpy(&v6->sin6_addr, in + 4, 16);
    a.len = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  a.setPort(get16(in + 2));
  *out = a;
  return true;
}

void encodeRootHello(const RootHello& h, uint8_t* out) {
  memset(out, 0, kRootHelloBytes);
  put32(out, kRootHelloMagic);
  put16(out + 4, kWireVersion);
  memcpy(out + 8, h.secret, kSecretBytes);
  put32(out + 24, static_cast<uint32_t>(h.rank));
  put32(out + 28, static_cast<uint32_t>(h.nranks));
  put32(out + 32, h.remainingMs);
  encodeAddress(h.listener, out + 36);
}

bool decodeRootHello(const uint8_t* in, RootHello* out) {
  if (get32(in) != kRootHelloMagic || get16(in + 4) != kWireVersion) return false;
  RootHello h;
  memcpy(h.secret, in + 8, kSecretBytes);
  h.rank = static_cast<int32_t>(get32(in + 24));
  h.nranks = static_cast<int32_t>(get32(in + 28));
  h.remainingMs = get32(in + 32);
  if (!decodeAddress(in + 36, &h.listener)) return false;
  *out = h;
  return true;
}

void encodeRootReplyHeader(const RootReplyHeader& h, uint8_t* out) {
  put32(out, kRootReplyMagic);
  put32(out + 4, h.status);
  put32(out + 8, h.length);
}

bool decodeRootReplyHeader(const uint8_t* in, RootReplyHeader* out) {
  if (get32(in) != kRootReplyMagic) return false;
  out->status = get32(in + 4);
  out->length = get32(in + 8);
  return true;
}

void encodePeerHello(const PeerHello& h, uint8_t* out) {
  memset(out, 0, kPeerHelloBytes);
  put32(out, kPeerHelloMagic);
  put16(out + 4, kWireVersion);
  put16(out + 6, static_cast<uint16_t>(h.kind));
  memcpy(out + 8, h.secret, kSecretBytes);
  put32(out + 24, static_cast<uint32_t>(h.rank));
  put32(out + 28, static_cast<uint32_t>(h.nranks));
}

bool decodePeerHello(const uint8_t* in, PeerHello* out) {
  if (get32(in) != kPeerHelloMagic || get16(in + 4) != kWireVersion) return false;
  uint16_t kind = get16(in + 6);
  if (kind != static_cast<uint16_t>(PeerKind::kRing) && kind != static_cast<uint16_t>(PeerKind::kP2p)) return false;
  PeerHello h;
  h.kind = static_cast<PeerKind>(kind);
  memcpy(h.secret, in + 8, kSecretBytes);
  h.rank = static_cast<int32_t>(get32(in + 24));
  h.nranks = static_cast<int32_t>(get32(in + 28));
  *out = h;
  return true;
}

void encodeFrameHeader(const FrameHeader& h, uint8_t* out) {
  put32(out, h.word);
  put32(out + 4, 0);
  put64(out + 8, h.bytes);
}

FrameHeader decodeFrameHeader(const uint8_t* in) { return {get32(in), get64(in + 8)}; }

bool secretEquals(const uint8_t* a, const uint8_t* b) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < kSecretBytes; ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

Result failIo(const IoStatus& st, double timeoutSec, const char* fmt, ...) {
  char context[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(context, sizeof(context), fmt, ap);
  va_end(ap);
  Result code = st.code == IoCode::kError ? mixcclSystemError : mixcclRemoteError;
  if (st.code == IoCode::kTimeout) {
    return failf(code, "%s: timed out after %.1f s%s%s", context, timeoutSec, st.err != 0 ? "; last error: " : "",
                 st.err != 0 ? errnoString(st.err).c_str() : "");
  }
  return failf(code, "%s: %s", context, st.describe().c_str());
}

}  // namespace mixccl::detail

// The 128-byte encoding of a UniqueId and createUniqueId().
//
// Layout (integers big-endian):
//   0   magic "MXID" u32        4  version u8        5  flags u8 (bit 0: rootListening)
//   6   family u8 (4 | 6)       7  0                 8  port u16        10  0 u16
//   12  address, 16 bytes (IPv4 in the first 4)      28 secret, 16 bytes
//   44  zeros up to 120         120 FNV-1a 64 of bytes [0, 120)
#include "bootstrap/unique_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "bootstrap/local_address.h"
#include "bootstrap/root.h"
#include "bootstrap/wire.h"
#include "core/config.h"

namespace mixccl {
namespace {

constexpr uint32_t kIdMagic = 0x4d584944;  // "MXID"
constexpr uint8_t kIdVersion = 1;
constexpr size_t kChecksumAt = MIXCCL_UNIQUE_ID_BYTES - 8;
static_assert(sizeof(mixcclUniqueId) == MIXCCL_UNIQUE_ID_BYTES);

uint64_t fnv1a64(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// Fills `out` from the kernel's random source (getrandom(2), blocking only before the pool is initialised).
Result randomSecret(uint8_t* out, size_t bytes) {
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(out + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failf(mixcclSystemError, "getrandom failed: %s", errnoString(errno).c_str());
    got += static_cast<size_t>(n);
  }
  return mixcclSuccess;
}

}  // namespace

void encodeUniqueId(const UniqueId& id, mixcclUniqueId* out) {
  uint8_t b[MIXCCL_UNIQUE_ID_BYTES] = {};
  detail::put32(b, kIdMagic);
  b[4] = kIdVersion;
  b[5] = id.rootListening ? 1 : 0;
  detail::SockAddr addr;
  if (detail::SockAddr::fromNumeric(id.host, id.port, &addr)) {
    uint8_t a[detail::kAddressBytes];
    detail::encodeAddress(addr, a);
    b[6] = a[0];
    memcpy(b + 12, a + 4, 16);
  }  // else family 0: decode reports it
  detail::put16(b + 8, id.port);
  memcpy(b + 28, id.secret, sizeof(id.secret));
  detail::put64(b + kChecksumAt, fnv1a64(b, kChecksumAt));
  memcpy(out->internal, b, sizeof(b));
}

Result decodeUniqueId(const mixcclUniqueId& in, UniqueId* out) {
  const auto* b = reinterpret_cast<const uint8_t*>(in.internal);
  if (detail::get32(b) != kIdMagic) {
    return failf(mixcclInvalidArgument,
                 "the unique id is not a mixccl id (bad magic %08x): was it copied whole "
                 "from mixcclGetUniqueId?",
                 detail::get32(b));
  }
  if (detail::get64(b + kChecksumAt) != fnv1a64(b, kChecksumAt)) {
    return failf(mixcclInvalidArgument, "the unique id is corrupted (checksum mismatch)");
  }
  if (b[4] != kIdVersion) {
    return failf(mixcclInvalidArgument, "the unique id has version %d; this library reads version %d", b[4],
                 kIdVersion);
  }
  uint8_t a[detail::kAddressBytes] = {};
  a[0] = b[6];
  memcpy(a + 4, b + 12, 16);
  detail::put16(a + 2, detail::get16(b + 8));
  detail::SockAddr addr;
  if (!detail::decodeAddress(a, &addr)) {
    return failf(mixcclInvalidArgument, "the unique id holds no root address (family %d)", b[6]);
  }
  UniqueId id;
  id.host = addr.host();
  id.port = addr.port();
  id.rootListening = (b[5] & 1) != 0;
  memcpy(id.secret, b + 28, sizeof(id.secret));
  *out = id;
  return mixcclSuccess;
}

Result createUniqueId(UniqueId* out) {
  UniqueId id;
  MIXCCL_TRY(randomSecret(id.secret, sizeof(id.secret)));
  detail::SockAddr local;
  MIXCCL_TRY(detail::chooseLocalAddress(&local));
  detail::Fd listener;
  detail::SockAddr bound;
  detail::IoStatus st = detail::listenOn(local, false, &listener, &bound);
  if (!st.ok()) {
    return failf(mixcclSystemError, "could not listen on %s for the bootstrap root: %s", local.str().c_str(),
                 st.describe().c_str());
  }
  MIXCCL_TRY(detail::startRoot(std::move(listener), id.secret, configDouble(cfg::kTimeout)));
  id.host = bound.host();
  id.port = bound.port();
  id.rootListening = true;
  *out = id;
  return mixcclSuccess;
}

}  // namespace mixccl

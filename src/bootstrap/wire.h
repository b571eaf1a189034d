#pragma once
// The bootstrap's wire protocol: fixed-size messages, integers in network byte order (big-endian), so that
// ranks of different architectures agree. See README.md for the sequence.
//
//   Address      family u8 (4|6), 0 u8, port u16, address 16 bytes (IPv4 in the first 4)        20 bytes
//   RootHello    'MXBR' u32, version u16, 0 u16, secret 16, rank i32, nranks i32,
//                remaining ms u32 (how long this rank still waits), Address of its listener      56 bytes
//   RootReply    'MXBT' u32, status u32 (0, or the mixcclResult_t the rank should return), length u32,
//                then length bytes: nranks Addresses (status 0) or an error text (status != 0)
//   PeerHello    'MXBP' u32, version u16, kind u16 (1 ring, 2 point-to-point), secret 16, rank i32,
//                nranks i32                                                                       32 bytes
//   Frame        word u32 (ring: collective sequence number; p2p: tag), 0 u32, bytes u64, then the bytes
#include <cstddef>
#include <cstdint>
#include <string>

#include "bootstrap/socket.h"
#include "core/status.h"

namespace mixccl::detail {

constexpr uint32_t kRootHelloMagic = 0x4d584252;  // "MXBR"
constexpr uint32_t kRootReplyMagic = 0x4d584254;  // "MXBT"
constexpr uint32_t kPeerHelloMagic = 0x4d584250;  // "MXBP"
constexpr uint16_t kWireVersion = 1;

constexpr size_t kSecretBytes = 16;
constexpr size_t kAddressBytes = 20;
constexpr size_t kRootHelloBytes = 36 + kAddressBytes;
constexpr size_t kRootReplyHeaderBytes = 12;
constexpr size_t kPeerHelloBytes = 32;
constexpr size_t kFrameHeaderBytes = 16;
constexpr uint32_t kMaxErrorText = 1024;
constexpr int kMaxRanks = 1 << 20;  // bounds the address table a rank accepts from the root

enum class PeerKind : uint16_t { kRing = 1, kP2p = 2 };

struct RootHello {
  uint8_t secret[kSecretBytes] = {};
  int32_t rank = 0;
  int32_t nranks = 0;
  uint32_t remainingMs = 0;
  SockAddr listener;
};

struct RootReplyHeader {
  uint32_t status = 0;
  uint32_t length = 0;
};

struct PeerHello {
  PeerKind kind = PeerKind::kRing;
  uint8_t secret[kSecretBytes] = {};
  int32_t rank = 0;
  int32_t nranks = 0;
};

struct FrameHeader {
  uint32_t word = 0;
  uint64_t bytes = 0;
};

// Encoders write exactly the sizes above; decoders return false on a wrong magic or version (the secret is
// checked by the caller, with secretEquals).
void encodeAddress(const SockAddr& addr, uint8_t* out);
bool decodeAddress(const uint8_t* in, SockAddr* out);
void encodeRootHello(const RootHello& h, uint8_t* out);
bool decodeRootHello(const uint8_t* in, RootHello* out);
void encodeRootReplyHeader(const RootReplyHeader& h, uint8_t* out);
bool decodeRootReplyHeader(const uint8_t* in, RootReplyHeader* out);
void encodePeerHello(const PeerHello& h, uint8_t* out);
bool decodePeerHello(const uint8_t* in, PeerHello* out);
void encodeFrameHeader(const FrameHeader& h, uint8_t* out);
FrameHeader decodeFrameHeader(const uint8_t* in);

// Compares two secrets in time independent of where they differ.
bool secretEquals(const uint8_t* a, const uint8_t* b);

// Big-endian integer helpers.
void put16(uint8_t* p, uint16_t v);
void put32(uint8_t* p, uint32_t v);
void put64(uint8_t* p, uint64_t v);
uint16_t get16(const uint8_t* p);
uint32_t get32(const uint8_t* p);
uint64_t get64(const uint8_t* p);

// Reports a failed socket operation once: "<context>: <what happened>", where a timeout says how long was
// waited. kTimeout, kClosed and kRefused map to mixcclRemoteError (the other side did not do its part), kError
// to mixcclSystemError. Returns the code.
Result failIo(const IoStatus& st, double timeoutSec, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace mixccl::detail

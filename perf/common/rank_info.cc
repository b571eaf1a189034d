#include "common/rank_info.h"

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "common/perf_error.h"

namespace mixccl::perf {
namespace {

// Wire form of RankInfo, so the all-gather moves plain bytes (mixcclUint8) whatever the host's struct layout: rank,
// pid and device as 4 little-endian bytes each, then the memory type, GPU and host names, NUL-padded.
constexpr size_t kMemoryBytes = 8;
constexpr size_t kGpuNameBytes = 32;
constexpr size_t kHostBytes = 120;
constexpr size_t kMemoryAt = 12;
constexpr size_t kGpuNameAt = kMemoryAt + kMemoryBytes;
constexpr size_t kHostAt = kGpuNameAt + kGpuNameBytes;
constexpr size_t kRecordBytes = kHostAt + kHostBytes;
using Record = std::array<uint8_t, kRecordBytes>;

void putU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t getU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

// Copies at most bytes - 1 characters of `text` (the record is zero-filled, so the field stays NUL-terminated).
void putText(uint8_t* p, size_t bytes, const char* text) { std::memcpy(p, text, strnlen(text, bytes - 1)); }

std::string getText(const uint8_t* p, size_t bytes) {
  const char* text = reinterpret_cast<const char*>(p);
  return std::string(text, strnlen(text, bytes));
}

Record encode(const RankContext& ctx) {
  Record rec{};
  putU32(rec.data(), static_cast<uint32_t>(ctx.rank));
  putU32(rec.data() + 4, static_cast<uint32_t>(getpid()));
  putU32(rec.data() + 8, static_cast<uint32_t>(ctx.gpu != nullptr ? ctx.device : -1));
  putText(rec.data() + kMemoryAt, kMemoryBytes,
          ctx.gpu != nullptr ? memoryTypeName(ctx.gpu->memoryType()) : memoryTypeName(MemoryType::kHost));
  if (ctx.gpu != nullptr) putText(rec.data() + kGpuNameAt, kGpuNameBytes, ctx.gpu->name());
  char host[kHostBytes] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  putText(rec.data() + kHostAt, kHostBytes, host);
  return rec;
}

RankInfo decode(const uint8_t* p) {
  RankInfo info;
  info.rank = static_cast<int>(getU32(p));
  info.pid = static_cast<int>(getU32(p + 4));
  info.device = static_cast<int>(static_cast<int32_t>(getU32(p + 8)));
  info.memory = getText(p + kMemoryAt, kMemoryBytes);
  info.gpuName = getText(p + kGpuNameAt, kGpuNameBytes);
  info.host = getText(p + kHostAt, kHostBytes);
  return info;
}

}  // namespace

std::vector<RankInfo> gatherRankInfo(const RankContext& ctx) {
  Record mine = encode(ctx);
  std::vector<uint8_t> all(kRecordBytes * static_cast<size_t>(ctx.nranks));
  checkResult(mixcclAllGather(mine.data(), all.data(), kRecordBytes, mixcclUint8, ctx.comm, nullptr),
              "mixcclAllGather (rank info)", ctx.comm);
  std::vector<RankInfo> infos;
  for (int r = 0; r < ctx.nranks; ++r) infos.push_back(decode(all.data() + kRecordBytes * static_cast<size_t>(r)));
  return infos;
}

std::string runMemory(const std::vector<RankInfo>& ranks) {
  if (ranks.empty()) return "host";
  for (const RankInfo& r : ranks) {
    if (r.memory != ranks.front().memory) return "mixed";
  }
  return ranks.front().memory;
}

}  // namespace mixccl::perf

#include "common/rank_info.h"

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "common/perf_error.h"

namespace mixccl::perf {
namespace {

// Wire form of RankInfo, so the all-gather moves plain bytes (mixcclUint8) whatever the host's struct layout: rank and
// pid as 4 little-endian bytes each, then the host name, NUL-padded.
constexpr size_t kHostBytes = 120;
constexpr size_t kRecordBytes = 8 + kHostBytes;
using Record = std::array<uint8_t, kRecordBytes>;

void putU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t getU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

Record encode(int rank) {
  Record rec{};
  putU32(rec.data(), static_cast<uint32_t>(rank));
  putU32(rec.data() + 4, static_cast<uint32_t>(getpid()));
  char host[kHostBytes] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  std::memcpy(rec.data() + 8, host, kHostBytes - 1);
  return rec;
}

RankInfo decode(const uint8_t* p) {
  RankInfo info;
  info.rank = static_cast<int>(getU32(p));
  info.pid = static_cast<int>(getU32(p + 4));
  const char* host = reinterpret_cast<const char*>(p + 8);
  info.host.assign(host, strnlen(host, kHostBytes));
  return info;
}

}  // namespace

std::vector<RankInfo> gatherRankInfo(mixcclComm_t comm, int rank, int nranks) {
  Record mine = encode(rank);
  std::vector<uint8_t> all(kRecordBytes * static_cast<size_t>(nranks));
  checkResult(mixcclAllGather(mine.data(), all.data(), kRecordBytes, mixcclUint8, comm, nullptr),
              "mixcclAllGather (rank info)", comm);
  std::vector<RankInfo> infos;
  for (int r = 0; r < nranks; ++r) infos.push_back(decode(all.data() + kRecordBytes * static_cast<size_t>(r)));
  return infos;
}

}  // namespace mixccl::perf

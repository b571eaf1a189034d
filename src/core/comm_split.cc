#include "core/comm_split.h"

#include <algorithm>
#include <cstring>

#include "bootstrap/unique_id.h"
#include "core/log.h"

namespace mixccl {
namespace {

constexpr uint32_t kShrinkTag = 0x53484b31;  // "SHK1": the first survivor's message to the others

// An all-zero id means "the first rank could not create one" (a real id has a magic and a checksum).
bool isZero(const mixcclUniqueId& id) {
  for (char c : id.internal) {
    if (c != 0) return false;
  }
  return true;
}

// The leader's new id, or a zero id if it cannot create one (the others must still get a message).
Result leaderId(mixcclUniqueId* raw) {
  memset(raw, 0, sizeof(*raw));
  UniqueId id;
  MIXCCL_TRY(createUniqueId(&id));
  encodeUniqueId(id, raw);
  return mixcclSuccess;
}

uint64_t hashRanks(const std::vector<int>& ranks) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (int r : ranks) {
    h ^= static_cast<uint32_t>(r);
    h *= 1099511628211ull;
  }
  return h ^ ranks.size();
}

Result initChild(const mixcclUniqueId& raw, int leader, int rank, int nranks, const Communicator::Options& options,
                 const char* what, std::unique_ptr<Communicator>* out) {
  if (isZero(raw)) {
    return failf(mixcclRemoteError, "%s: parent rank %d, the first of the new communicator, could not create its "
                 "unique id (see that rank's log)", what, leader);
  }
  UniqueId id;
  MIXCCL_TRY(decodeUniqueId(raw, &id));
  MIXCCL_LOG(kInfo, "%s: rank %d of %d in the new communicator", what, rank, nranks);
  return Communicator::create(id, rank, nranks, options, out);
}

}  // namespace

Result splitCommunicator(Communicator& parent, int color, int key, const Communicator::Options& options,
                         std::unique_ptr<Communicator>* out) {
  struct Entry {
    int32_t color;
    int32_t key;
  };
  const int n = parent.nranks(), me = parent.rank();
  Bootstrap& boot = parent.bootstrap();
  std::vector<Entry> all(n);
  const Entry mine{color, key};
  MIXCCL_TRY(boot.allGather(&mine, all.data(), sizeof(Entry)));
  for (int r = 0; r < n; ++r) {
    if (all[r].color < MIXCCL_SPLIT_NOCOLOR) {
      return failf(mixcclInvalidArgument, "mixcclCommSplit: rank %d passed color %d (use >= 0 or "
                   "MIXCCL_SPLIT_NOCOLOR)", r, all[r].color);
    }
  }
  // This rank's group, ordered by (key, parent rank).
  std::vector<int> members;
  if (color != MIXCCL_SPLIT_NOCOLOR) {
    for (int r = 0; r < n; ++r) {
      if (all[r].color == color) members.push_back(r);
    }
    std::stable_sort(members.begin(), members.end(), [&](int a, int b) { return all[a].key < all[b].key; });
  }
  // Every rank contributes an id slot; the first rank of each group puts its group's new id there.
  mixcclUniqueId slot;
  memset(&slot, 0, sizeof(slot));
  Result created = mixcclSuccess;
  if (!members.empty() && members[0] == me) created = leaderId(&slot);
  std::vector<mixcclUniqueId> ids(n);
  MIXCCL_TRY(boot.allGather(&slot, ids.data(), sizeof(slot)));
  MIXCCL_TRY(created);
  if (members.empty()) {
    out->reset();
    return mixcclSuccess;
  }
  const int rank = static_cast<int>(std::find(members.begin(), members.end(), me) - members.begin());
  return initChild(ids[members[0]], members[0], rank, static_cast<int>(members.size()), options, "mixcclCommSplit",
                   out);
}

Result shrinkCommunicator(Communicator& parent, const std::vector<int>& excluded, const Communicator::Options& options,
                          std::unique_ptr<Communicator>* out) {
  struct Message {
    mixcclUniqueId id;
    uint64_t excludedHash;
  };
  const int me = parent.rank();
  std::vector<int> survivors;
  for (int r = 0; r < parent.nranks(); ++r) {
    if (!std::binary_search(excluded.begin(), excluded.end(), r)) survivors.push_back(r);
  }
  const int leader = survivors[0];
  Message msg;
  Bootstrap& boot = parent.bootstrap();
  if (me == leader) {
    Result created = leaderId(&msg.id);
    msg.excludedHash = hashRanks(excluded);
    for (size_t i = 1; i < survivors.size(); ++i) {
      MIXCCL_TRY(boot.send(survivors[i], kShrinkTag, &msg, sizeof(msg)));
    }
    MIXCCL_TRY(created);
  } else {
    MIXCCL_TRY(boot.recv(leader, kShrinkTag, &msg, sizeof(msg)));
    if (msg.excludedHash != hashRanks(excluded)) {
      return failf(mixcclInvalidUsage, "mixcclCommShrink: rank %d excludes a different list of ranks than rank %d "
                   "(every survivor must pass the same list)", me, leader);
    }
  }
  const int rank = static_cast<int>(std::find(survivors.begin(), survivors.end(), me) - survivors.begin());
  return initChild(msg.id, leader, rank, static_cast<int>(survivors.size()), options, "mixcclCommShrink", out);
}

}  // namespace mixccl

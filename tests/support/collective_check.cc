#include "support/collective_check.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "support/exact_data.h"
#include "support/rank_runner.h"

namespace mixccl::testing {

mixcclResult_t callCollective(CollType coll, const void* send, void* recv, size_t count, mixcclDataType_t dt,
                    mixcclRedOp_t op, int root, mixcclComm_t comm) {
  switch (coll) {
    case CollType::kAllReduce: return mixcclAllReduce(send, recv, count, dt, op, comm, nullptr);
    case CollType::kAllGather: return mixcclAllGather(send, recv, count, dt, comm, nullptr);
    case CollType::kReduceScatter: return mixcclReduceScatter(send, recv, count, dt, op, comm, nullptr);
    case CollType::kBroadcast: return mixcclBroadcast(send, recv, count, dt, root, comm, nullptr);
    case CollType::kReduce: return mixcclReduce(send, recv, count, dt, op, root, comm, nullptr);
    default: break;
  }
  return mixcclInternalError;
}

int64_t runCheckedCollective(mixcclComm_t comm, CollType coll, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op,
                             int root, bool inPlace, int rank, int n) {
  CollArgs args{coll, count, dt, op, root};
  const size_t esz = dataTypeSize(dt);
  const uint64_t sendN = sendElements(args, n), recvN = recvElements(args, n);
  std::vector<char> recvBuf(std::max(sendN, recvN) * esz + 64, 0x5a), sendBuf(sendN * esz + 64), want(recvN * esz + 1);
  char* send = sendBuf.data();
  char* recv = recvBuf.data();
  if (inPlace) send = coll == CollType::kAllGather ? recv + rank * count * esz : recv;
  testdata::fillSend(static_cast<int>(coll), send, count, dt, op, root, rank, n);
  if (inPlace && coll == CollType::kReduceScatter) recv = send + rank * count * esz;
  testdata::fillExpectedRecv(static_cast<int>(coll), want.data(), count, dt, op, root, rank, n);
  mixcclResult_t res = callCollective(coll, send, recv, count, dt, op, root, comm);
  if (!rankCheck(res == mixcclSuccess, rank, "%s failed: %s", collName(coll), mixcclGetLastError(comm))) return -1;
  if (coll == CollType::kReduce && rank != root) return 0;  // only the root's receive buffer is defined
  return static_cast<int64_t>(testdata::countWrong(recv, want.data(), dt, recvN));
}

int runCollectiveMatrix(int rank, int n, const mixcclUniqueId& id, CollType coll, const CollectiveMatrix& m) {
  mixcclComm_t comm = initRankComm(rank, n, id);
  if (comm == nullptr) return 1;
  const bool reduces = coll == CollType::kAllReduce || coll == CollType::kReduceScatter || coll == CollType::kReduce;
  const bool rooted = coll == CollType::kBroadcast || coll == CollType::kReduce;
  const std::vector<mixcclRedOp_t> ops = reduces ? m.ops : std::vector<mixcclRedOp_t>{mixcclSum};
  std::vector<uint64_t> counts = m.counts;
  if (m.slowCount != 0) counts.push_back(m.slowCount);
  int failures = 0;
  for (mixcclDataType_t dt : m.types) {
    for (mixcclRedOp_t op : ops) {
      for (uint64_t count : counts) {
        if (count == m.slowCount && op != ops.front()) continue;
        for (bool inPlace : {false, true}) {
          int root = rooted ? static_cast<int>(count % n) : 0;
          int64_t wrong = runCheckedCollective(comm, coll, count, dt, op, root, inPlace, rank, n);
          if (rankCheck(wrong == 0, rank, "%s %s %s count %llu %s: %lld wrong", collName(coll), dataTypeName(dt),
                        redOpName(op), static_cast<unsigned long long>(count), inPlace ? "in-place" : "out-of-place",
                        static_cast<long long>(wrong)))
            continue;
          if (wrong < 0 || ++failures >= 5) return 1;  // a failed call leaves the communicator unusable
        }
      }
    }
  }
  mixcclCommDestroy(comm);
  return failures == 0 ? 0 : 1;
}

std::string onlyVictimFailed(const std::string& report, int victim, int nranks) {
  std::string problems;
  if (report.find("rank " + std::to_string(victim) + " killed by signal 9") == std::string::npos) {
    problems += "the victim (rank " + std::to_string(victim) + ") was not killed by SIGKILL\n";
  }
  for (int r = 0; r < nranks; ++r) {
    if (r != victim && report.find("rank " + std::to_string(r) + " exited") != std::string::npos) {
      problems += "rank " + std::to_string(r) + " failed\n";
    }
  }
  return problems.empty() ? "" : problems + report;
}

int runUntilVictimLeaves(int rank, int n, const mixcclUniqueId& id, const VictimTest& test) {
  mixcclConfig_t config = MIXCCL_CONFIG_INITIALIZER;
  config.timeoutMs = static_cast<int>(test.timeoutSec * 1000);
  mixcclComm_t comm = nullptr;
  if (!rankCheck(mixcclCommInitRankConfig(&comm, n, id, rank, &config) == mixcclSuccess, rank, "init: %s",
                 mixcclGetLastError(nullptr)))
    return 1;
  const size_t count = 1 << 20;
  std::vector<float> buf(count, 1.0f);
  auto start = std::chrono::steady_clock::now();
  for (int iter = 0; iter < 100000; ++iter) {
    if (rank == test.victim && iter == 3) {
      if (test.abortInstead) {
        mixcclCommAbort(comm);
        _exit(0);
      }
      raise(SIGKILL);
    }
    mixcclResult_t res = mixcclAllReduce(buf.data(), buf.data(), count, mixcclFloat32, mixcclMax, comm, nullptr);
    if (res == mixcclSuccess) continue;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string msg = mixcclGetLastError(comm);
    bool ok = rankCheck(res == mixcclRemoteError, rank, "expected mixcclRemoteError, got %d: %s", res, msg.c_str());
    std::string victimName = "rank " + std::to_string(test.victim);
    const bool named = msg.find(victimName) != std::string::npos;
    const bool timeoutNamingAwaited =
        msg.find("timed out") != std::string::npos && msg.find("waits for data from rank ") != std::string::npos;
    ok &= rankCheck(named || (test.acceptTimeoutNamingAwaitedRank && !test.abortInstead && timeoutNamingAwaited),
                    rank, "error does not name %s: %s", victimName.c_str(), msg.c_str());
    if (named) fprintf(stderr, "rank %d: named the victim\n", rank);
    ok &= rankCheck(elapsed < test.allowanceSec, rank, "failure took %.1f s (allowed %.1f s)", elapsed,
                    test.allowanceSec);
    mixcclResult_t async = mixcclSuccess;
    mixcclCommGetAsyncError(comm, &async);
    ok &= rankCheck(async == mixcclRemoteError, rank, "async error is %d", async);
    ok &= rankCheck(mixcclAllReduce(buf.data(), buf.data(), count, mixcclFloat32, mixcclMax, comm, nullptr) ==
                        mixcclRemoteError,
                    rank, "a failed communicator accepted another collective");
    mixcclCommDestroy(comm);
    return ok ? 0 : 1;
  }
  return rankCheck(false, rank, "the collectives kept succeeding after rank %d left", test.victim) ? 0 : 1;
}

}  // namespace mixccl::testing

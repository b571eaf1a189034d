// Bootstrap tests: the unique id encoding, ranks as threads of this process (1, 2, 3, 8 ranks) and as forked
// processes, and the failures that must be clear errors and never hangs: a stray client with a wrong secret, a
// reused id, a rank that never comes, a peer that dies, launcher variables that are missing.
//
// Every wait is short: ranks use timeouts of a few seconds, and forked children are killed after a deadline.
#include "bootstrap/bootstrap.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/local_address.h"
#include "bootstrap/peer_acceptor.h"
#include "bootstrap/socket.h"
#include "bootstrap/unique_id.h"

namespace mixccl {
namespace {

constexpr double kTimeout = 5.0;  // seconds a rank waits in the tests that succeed

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Outcome {
  Result res = mixcclSuccess;
  std::string msg;
};

// Runs body(rank) on `n` threads; each outcome carries the rank's result and its last error message.
std::vector<Outcome> runThreads(int n, const std::function<Result(int)>& body) {
  std::vector<Outcome> out(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      out[r].res = body(r);
      out[r].msg = lastErrorMessage();
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

std::string describe(const std::vector<Outcome>& outcomes) {
  std::string s;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    s += "rank " + std::to_string(r) + ": " + resultString(outcomes[r].res) + " " + outcomes[r].msg + "\n";
  }
  return s;
}

// Forks a child that runs `body` and exits with its value (0 = pass).
pid_t forkChild(const std::function<int()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

// Waits for `pid` at most `timeoutSec`; returns its exit code, 128 + signal if killed, or -1 if it overran
// (it is then killed).
int waitChild(pid_t pid, double timeoutSec) {
  auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (secondsSince(start) > timeoutSec) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A child's exit code for `res`: 0 on success, else 10 + the code (and the message on stderr).
int exitCode(Result res, int rank) {
  if (res == mixcclSuccess) return 0;
  fprintf(stderr, "child rank %d: %s: %s\n", rank, resultString(res), lastErrorMessage());
  return 10 + res;
}

// A rank's standard workload: an allGather that checks every block, then a barrier.
Result gatherAndCheck(Bootstrap* b) {
  int n = b->nranks();
  std::vector<int> all(3 * n);
  int mine[3] = {b->rank() * 100, b->rank() * 100 + 1, b->rank() * 100 + 2};
  MIXCCL_TRY(b->allGather(mine, all.data(), sizeof(mine)));
  for (int r = 0; r < n; ++r) {
    for (int i = 0; i < 3; ++i) {
      if (all[3 * r + i] != r * 100 + i)
        return fail(mixcclInternalError, "allGather: wrong block of rank " + std::to_string(r));
    }
  }
  return b->barrier();
}

Result initAndGather(const UniqueId& id, int rank, int n, double timeout) {
  std::unique_ptr<Bootstrap> b;
  MIXCCL_TRY(bootstrapInit(id, rank, n, timeout, &b));
  return gatherAndCheck(b.get());
}

class BootstrapTest : public ::testing::Test {
 protected:
  // Roots of the failure tests must not outlive them by the default 300 s.
  void SetUp() override { setenv("MIXCCL_TIMEOUT", "10", 1); }
};

// ---- unique id ----

TEST_F(BootstrapTest, UniqueIdRoundTrip) {
  for (const char* host : {"10.1.2.3", "2001:db8::5"}) {
    UniqueId id;
    id.host = host;
    id.port = 45678;
    for (int i = 0; i < 16; ++i) id.secret[i] = static_cast<uint8_t>(i * 17 + 3);
    id.rootListening = true;
    mixcclUniqueId raw;
    encodeUniqueId(id, &raw);
    UniqueId back;
    ASSERT_EQ(decodeUniqueId(raw, &back), mixcclSuccess) << lastErrorMessage();
    EXPECT_EQ(back.host, id.host);
    EXPECT_EQ(back.port, id.port);
    EXPECT_EQ(memcmp(back.secret, id.secret, 16), 0);
    EXPECT_TRUE(back.rootListening);
  }
}

TEST_F(BootstrapTest, CorruptedUniqueIdRejected) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess) << lastErrorMessage();
  mixcclUniqueId raw;
  encodeUniqueId(id, &raw);
  UniqueId out;
  mixcclUniqueId flipped = raw;
  flipped.internal[13] ^= 1;  // inside the address
  EXPECT_EQ(decodeUniqueId(flipped, &out), mixcclInvalidArgument);
  EXPECT_NE(std::string(lastErrorMessage()).find("checksum"), std::string::npos) << lastErrorMessage();
  mixcclUniqueId zero{};
  EXPECT_EQ(decodeUniqueId(zero, &out), mixcclInvalidArgument);
  EXPECT_NE(std::string(lastErrorMessage()).find("magic"), std::string::npos) << lastErrorMessage();
}

TEST_F(BootstrapTest, InterfaceMatching) {
  using detail::interfaceMatches;
  EXPECT_TRUE(interfaceMatches("eth", "eth0"));
  EXPECT_TRUE(interfaceMatches("eth,ib", "ib1"));
  EXPECT_FALSE(interfaceMatches("eth,ib", "lo"));
  EXPECT_FALSE(interfaceMatches("^docker,lo", "docker0"));
  EXPECT_TRUE(interfaceMatches("^docker,lo", "eth0"));
  EXPECT_TRUE(interfaceMatches("=eth0", "eth0"));
  EXPECT_FALSE(interfaceMatches("=eth0", "eth01"));
}

TEST_F(BootstrapTest, SocketIfnameChoosesTheInterface) {
  detail::SockAddr addr;
  setenv("MIXCCL_SOCKET_IFNAME", "lo", 1);
  ASSERT_EQ(detail::chooseLocalAddress(&addr), mixcclSuccess) << lastErrorMessage();
  EXPECT_TRUE(addr.isLoopback()) << addr.str();
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  EXPECT_EQ(id.host, "127.0.0.1");
  auto outcomes = runThreads(2, [&](int r) { return initAndGather(id, r, 2, kTimeout); });
  for (const Outcome& o : outcomes) EXPECT_EQ(o.res, mixcclSuccess) << describe(outcomes);
  setenv("MIXCCL_SOCKET_IFNAME", "=nosuchif0", 1);
  EXPECT_EQ(detail::chooseLocalAddress(&addr), mixcclInvalidUsage);
  EXPECT_NE(std::string(lastErrorMessage()).find("MIXCCL_SOCKET_IFNAME"), std::string::npos) << lastErrorMessage();
  unsetenv("MIXCCL_SOCKET_IFNAME");
}

// ---- ranks as threads ----

class BootstrapThreadsTest : public BootstrapTest, public ::testing::WithParamInterface<int> {};

TEST_P(BootstrapThreadsTest, AllGatherBarrierSendRecv) {
  const int n = GetParam();
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess) << lastErrorMessage();
  auto outcomes = runThreads(n, [&](int rank) -> Result {
    std::unique_ptr<Bootstrap> b;
    MIXCCL_TRY(bootstrapInit(id, rank, n, kTimeout, &b));
    if (b->rank() != rank || b->nranks() != n) return fail(mixcclInternalError, "wrong rank or size");
    MIXCCL_TRY(gatherAndCheck(b.get()));
    // Large blocks: every rank sends before it receives, which must not deadlock on full socket buffers.
    const size_t big = 256 << 10;
    std::vector<uint8_t> mine(big, static_cast<uint8_t>(rank + 1)), all(big * n);
    MIXCCL_TRY(b->allGather(mine.data(), all.data(), big));
    for (int r = 0; r < n; ++r) {
      if (all[r * big] != r + 1 || all[r * big + big - 1] != r + 1) return fail(mixcclInternalError, "big allGather");
    }
    // Point-to-point to every rank (self included) with tags 1, 2, 3, received in the order 3, 1, 2 and from
    // the peers in reverse order, so that most messages wait in the queue.
    for (int p = 0; p < n; ++p) {
      for (uint32_t tag = 1; tag <= 3; ++tag) {
        int msg[3] = {rank, p, static_cast<int>(tag)};
        MIXCCL_TRY(b->send(p, tag, msg, sizeof(msg)));
      }
    }
    for (int p = n - 1; p >= 0; --p) {
      for (uint32_t tag : {3u, 1u, 2u}) {
        int msg[3] = {};
        MIXCCL_TRY(b->recv(p, tag, msg, sizeof(msg)));
        if (msg[0] != p || msg[1] != rank || msg[2] != static_cast<int>(tag)) {
          return fail(mixcclInternalError, "recv from " + std::to_string(p) + " tag " + std::to_string(tag));
        }
      }
    }
    // Everyone checks while everyone is still there (the last barrier keeps the peers from leaving early).
    MIXCCL_TRY(b->barrier());
    MIXCCL_TRY(b->checkAlive());
    return b->barrier();
  });
  for (const Outcome& o : outcomes) EXPECT_EQ(o.res, mixcclSuccess) << describe(outcomes);
}

INSTANTIATE_TEST_SUITE_P(Ranks, BootstrapThreadsTest, ::testing::Values(1, 2, 3, 8),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST_F(BootstrapTest, MismatchedCollectivesAreReported) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  auto outcomes = runThreads(2, [&](int rank) -> Result {
    std::unique_ptr<Bootstrap> b;
    MIXCCL_TRY(bootstrapInit(id, rank, 2, 2.0, &b));
    std::vector<uint8_t> mine(4 * (rank + 1)), all(mine.size() * 2);
    return b->allGather(mine.data(), all.data(), mine.size());
  });
  for (const Outcome& o : outcomes) {
    EXPECT_EQ(o.res, mixcclInvalidUsage) << describe(outcomes);
    EXPECT_NE(o.msg.find("same bootstrap collectives"), std::string::npos) << describe(outcomes);
  }
}

// ---- ranks as processes ----

TEST_F(BootstrapTest, ForkedProcesses) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  const int n = 4;
  std::vector<pid_t> pids;
  for (int r = 1; r < n; ++r)
    pids.push_back(forkChild([&, r] { return exitCode(initAndGather(id, r, n, kTimeout), r); }));
  EXPECT_EQ(initAndGather(id, 0, n, kTimeout), mixcclSuccess) << lastErrorMessage();
  for (size_t i = 0; i < pids.size(); ++i) EXPECT_EQ(waitChild(pids[i], 10), 0) << "rank " << i + 1;
}

// ---- failures ----

TEST_F(BootstrapTest, WrongSecretIsDroppedAndRealRanksSucceed) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  detail::SockAddr root;
  ASSERT_TRUE(detail::SockAddr::fromNumeric(id.host, id.port, &root));
  // Strays: one that says nothing and one that sends garbage; both stay connected while the ranks join.
  detail::Fd silent, garbage;
  ASSERT_TRUE(detail::connectUntil(root, detail::Deadline::after(2), false, &silent).ok());
  ASSERT_TRUE(detail::connectUntil(root, detail::Deadline::after(2), false, &garbage).ok());
  std::vector<uint8_t> junk(200, 0x5a);
  ASSERT_TRUE(detail::sendAll(garbage.get(), junk.data(), junk.size(), detail::Deadline::after(2)).ok());

  // A client with a wrong secret claims rank 0 first: the root drops it and it fails at once.
  UniqueId forged = id;
  forged.secret[0] ^= 0xff;
  auto start = std::chrono::steady_clock::now();
  Result res = initAndGather(forged, 0, 2, kTimeout);
  EXPECT_EQ(res, mixcclRemoteError);
  EXPECT_NE(std::string(lastErrorMessage()).find("secret does not match"), std::string::npos) << lastErrorMessage();
  EXPECT_LT(secondsSince(start), 1.0);
  // The real ranks still get through.
  auto outcomes = runThreads(2, [&](int r) { return initAndGather(id, r, 2, kTimeout); });
  for (const Outcome& o : outcomes) EXPECT_EQ(o.res, mixcclSuccess) << describe(outcomes);
}

TEST_F(BootstrapTest, StraysOnARankListenerAreDropped) {
  using namespace detail;
  Fd listener;
  SockAddr at;
  ASSERT_TRUE(listenOn(SockAddr::loopback(AF_INET, 0), false, &listener, &at).ok());
  uint8_t secret[kSecretBytes] = {1, 2, 3};
  PeerAcceptor acceptor(std::move(listener), secret, 4);
  auto connectAndSay = [&](PeerHello h, Fd* fd) {
    uint8_t buf[kPeerHelloBytes];
    encodePeerHello(h, buf);
    ASSERT_TRUE(connectUntil(at, Deadline::after(2), false, fd).ok());
    ASSERT_TRUE(sendAll(fd->get(), buf, sizeof(buf), Deadline::after(2)).ok());
  };
  PeerHello good;
  good.kind = PeerKind::kP2p;
  memcpy(good.secret, secret, kSecretBytes);
  good.rank = 2;
  good.nranks = 4;
  PeerHello wrongSecret = good, wrongSize = good;
  wrongSecret.secret[5] = 9;
  wrongSize.nranks = 5;
  Fd silent, a, b, c;
  ASSERT_TRUE(connectUntil(at, Deadline::after(2), false, &silent).ok());  // says nothing at all
  connectAndSay(wrongSecret, &a);
  connectAndSay(wrongSize, &b);
  connectAndSay(good, &c);
  Fd got;
  ASSERT_TRUE(acceptor.take(PeerKind::kP2p, 2, Deadline::after(2), &got).ok());
  // The dropped strays see their connection closed; nobody else is waiting.
  uint8_t byte;
  EXPECT_EQ(recvAll(a.get(), &byte, 1, Deadline::after(2)).code, IoCode::kClosed);
  EXPECT_EQ(recvAll(b.get(), &byte, 1, Deadline::after(2)).code, IoCode::kClosed);
  EXPECT_EQ(acceptor.take(PeerKind::kP2p, 1, Deadline::after(0.05), &got).code, IoCode::kTimeout);
}

TEST_F(BootstrapTest, ReusedIdInSameProcessFailsAtOnce) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  auto first = runThreads(2, [&](int r) { return initAndGather(id, r, 2, kTimeout); });
  for (const Outcome& o : first) ASSERT_EQ(o.res, mixcclSuccess) << describe(first);
  auto start = std::chrono::steady_clock::now();
  auto second = runThreads(2, [&](int r) { return initAndGather(id, r, 2, kTimeout); });
  for (const Outcome& o : second) {
    EXPECT_EQ(o.res, mixcclInvalidUsage) << describe(second);
    EXPECT_NE(o.msg.find("unique id already used"), std::string::npos) << describe(second);
  }
  EXPECT_LT(secondsSince(start), 1.0);
}

TEST_F(BootstrapTest, ReusedIdInAnotherProcessFailsFast) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  pid_t a = forkChild([&] { return exitCode(initAndGather(id, 0, 2, kTimeout), 0); });
  pid_t b = forkChild([&] { return exitCode(initAndGather(id, 1, 2, kTimeout), 1); });
  ASSERT_EQ(waitChild(a, 10), 0);
  ASSERT_EQ(waitChild(b, 10), 0);
  // The root has served its communicator and exited: the connection is refused, with no retrying.
  auto start = std::chrono::steady_clock::now();
  pid_t again = forkChild([&] {
    Result res = initAndGather(id, 0, 2, 30.0);
    bool clear = strstr(lastErrorMessage(), "used already") != nullptr;
    return res == mixcclRemoteError && clear ? 0 : exitCode(res == mixcclSuccess ? mixcclInternalError : res, 0);
  });
  EXPECT_EQ(waitChild(again, 10), 0);
  EXPECT_LT(secondsSince(start), 3.0);
}

TEST_F(BootstrapTest, ReusedIdWhileRootRunsIsRejected) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  pid_t first = forkChild([&] { return exitCode(initAndGather(id, 0, 2, kTimeout), 0); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let rank 0 join first
  pid_t dup = forkChild([&] {
    Result res = initAndGather(id, 0, 2, kTimeout);
    bool clear = strstr(lastErrorMessage(), "rank 0 already joined") != nullptr;
    return res == mixcclRemoteError && clear ? 0 : exitCode(res == mixcclSuccess ? mixcclInternalError : res, 0);
  });
  EXPECT_EQ(waitChild(dup, 10), 0);
  pid_t second = forkChild([&] { return exitCode(initAndGather(id, 1, 2, kTimeout), 1); });
  EXPECT_EQ(waitChild(first, 10), 0);
  EXPECT_EQ(waitChild(second, 10), 0);
}

TEST_F(BootstrapTest, RankThatNeverComesFailsTheOthersNamingIt) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  auto start = std::chrono::steady_clock::now();
  auto outcomes = runThreads(2, [&](int r) { return initAndGather(id, r, 3, 1.0); });  // rank 2 never comes
  for (const Outcome& o : outcomes) {
    EXPECT_EQ(o.res, mixcclRemoteError) << describe(outcomes);
    EXPECT_NE(o.msg.find("rank 2 of 3 never joined"), std::string::npos) << describe(outcomes);
  }
  EXPECT_LT(secondsSince(start), 2.0);
}

TEST_F(BootstrapTest, NranksMismatchIsRejected) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  auto outcomes = runThreads(2, [&](int r) { return initAndGather(id, r, 2 + r, 1.0); });
  int usage = 0;
  for (const Outcome& o : outcomes)
    usage += o.res == mixcclInvalidUsage && o.msg.find("announced nranks") != std::string::npos;
  EXPECT_EQ(usage, 1) << describe(outcomes);
}

TEST_F(BootstrapTest, DeadPeerIsReportedByCheckAlive) {
  UniqueId id;
  ASSERT_EQ(createUniqueId(&id), mixcclSuccess);
  const int n = 3, victim = 2;
  int report[2], hold[2];
  ASSERT_EQ(pipe(report), 0);
  ASSERT_EQ(pipe(hold), 0);
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pids.push_back(forkChild([&, r]() -> int {
      close(report[0]);
      close(hold[1]);
      std::unique_ptr<Bootstrap> b;
      Result res = bootstrapInit(id, r, n, kTimeout, &b);
      if (res == mixcclSuccess) res = gatherAndCheck(b.get());
      if (res != mixcclSuccess) return exitCode(res, r);
      if (r == victim) raise(SIGKILL);
      // Neighbours of the victim (0 and 1 in a ring of 3) poll until they notice it.
      int code = 1;
      auto start = std::chrono::steady_clock::now();
      while (secondsSince(start) < 3.0) {
        res = b->checkAlive();
        if (res != mixcclSuccess) {
          bool named = strstr(lastErrorMessage(), "rank 2 (") != nullptr;
          code = res == mixcclRemoteError && named ? 0 : exitCode(res, r);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      char c = static_cast<char>(code);
      if (write(report[1], &c, 1) != 1) return 2;
      // Stay alive until every survivor has reported, so that none sees another survivor leave instead.
      read(hold[0], &c, 1);
      return code;
    }));
  }
  close(report[1]);
  close(hold[0]);
  for (int i = 0; i < n - 1; ++i) {
    pollfd p{report[0], POLLIN, 0};
    char c;
    if (poll(&p, 1, 8000) != 1 || read(report[0], &c, 1) != 1) break;
  }
  close(hold[1]);
  close(report[0]);
  EXPECT_EQ(waitChild(pids[victim], 10), 128 + SIGKILL);
  EXPECT_EQ(waitChild(pids[0], 10), 0);
  EXPECT_EQ(waitChild(pids[1], 10), 0);
}

// ---- launcher environments ----

// A TCP port that was free a moment ago, with the one below it, outside the kernel's ephemeral range (so that
// the connections of tests running in parallel do not take it).
uint16_t freePort() {
  static unsigned seed = static_cast<unsigned>(getpid());
  for (;;) {
    uint16_t port = static_cast<uint16_t>(20001 + rand_r(&seed) % 9000);
    detail::Fd a, b;
    detail::SockAddr bound;
    if (detail::listenOn(detail::SockAddr::any(AF_INET, port), true, &a, &bound).ok() &&
        detail::listenOn(detail::SockAddr::any(AF_INET, port - 1), true, &b, &bound).ok()) {
      return port;
    }
  }
}

void clearLauncherEnv() {
  for (const char* v : {"RANK",
                        "WORLD_SIZE",
                        "MASTER_ADDR",
                        "MASTER_PORT",
                        "TORCHELASTIC_RUN_ID",
                        "OMPI_COMM_WORLD_RANK",
                        "OMPI_COMM_WORLD_SIZE",
                        "OMPI_COMM_WORLD_LOCAL_SIZE",
                        "OMPI_MCA_ess_base_jobid",
                        "PMIX_NAMESPACE",
                        "OMPI_MCA_orte_ess_jobid",
                        "SLURM_PROCID",
                        "SLURM_NTASKS",
                        "SLURM_JOB_ID",
                        "SLURM_STEP_ID",
                        "SLURM_STEP_NUM_NODES",
                        "SLURM_NNODES",
                        "SLURM_STEP_NODELIST",
                        "SLURM_JOB_NODELIST",
                        "MIXCCL_ROOT_ADDR",
                        "MIXCCL_SECRET"}) {
    unsetenv(v);
  }
}

// Forks `n` children that set their variables with setEnv(rank), then init from the environment and gather.
void runFromEnv(int n, const std::function<void(int)>& setEnv, uint16_t expectPort) {
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pids.push_back(forkChild([&, r] {
      clearLauncherEnv();
      setEnv(r);
      UniqueId id;
      int rank = -1, nranks = -1;
      Result res = uniqueIdFromEnv(&id, &rank, &nranks);
      if (res != mixcclSuccess) return exitCode(res, r);
      if (rank != r || nranks != n || (expectPort != 0 && id.port != expectPort)) return 3;
      return exitCode(initAndGather(id, rank, nranks, kTimeout), r);
    }));
  }
  for (int r = 0; r < n; ++r) EXPECT_EQ(waitChild(pids[r], 10), 0) << "rank " << r;
}

TEST_F(BootstrapTest, FromTorchrunEnv) {
  uint16_t port = freePort();  // the root's; torchrun's store would be at port - 1
  runFromEnv(
      2,
      [&](int r) {
        setenv("RANK", std::to_string(r).c_str(), 1);
        setenv("WORLD_SIZE", "2", 1);
        setenv("MASTER_ADDR", "localhost", 1);
        setenv("MASTER_PORT", std::to_string(port - 1).c_str(), 1);
      },
      port);
}

TEST_F(BootstrapTest, FromOpenMpiEnv) {
  std::string job = "test-" + std::to_string(getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  runFromEnv(
      3,
      [&](int r) {
        setenv("OMPI_COMM_WORLD_RANK", std::to_string(r).c_str(), 1);
        setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
        setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3", 1);
        setenv("OMPI_MCA_ess_base_jobid", job.c_str(), 1);
      },
      0);
}

TEST_F(BootstrapTest, FromSlurmEnvWithRootAddrOverride) {
  uint16_t port = freePort();
  runFromEnv(
      2,
      [&](int r) {
        setenv("SLURM_PROCID", std::to_string(r).c_str(), 1);
        setenv("SLURM_NTASKS", "2", 1);
        setenv("SLURM_JOB_ID", "4242", 1);
        setenv("SLURM_STEP_ID", "0", 1);
        setenv("MIXCCL_ROOT_ADDR", ("localhost:" + std::to_string(port)).c_str(), 1);
      },
      port);
}

TEST_F(BootstrapTest, FromEnvOverIpv6Loopback) {
  uint16_t port = freePort();
  runFromEnv(
      2,
      [&](int r) {
        setenv("RANK", std::to_string(r).c_str(), 1);
        setenv("WORLD_SIZE", "2", 1);
        setenv("MIXCCL_ROOT_ADDR", ("[::1]:" + std::to_string(port)).c_str(), 1);
        setenv("MIXCCL_SECRET", "not-a-real-secret", 1);
      },
      port);
}

TEST_F(BootstrapTest, MissingOrMalformedLauncherVariablesAreNamed) {
  struct Case {
    std::vector<std::pair<const char*, const char*>> vars;
    const char* named;
  };
  std::vector<Case> cases = {
      {{}, "no launcher environment"},
      {{{"RANK", "0"}}, "WORLD_SIZE"},
      {{{"RANK", "zero"}, {"WORLD_SIZE", "2"}}, "RANK=zero"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK=2"},
      {{{"RANK", "1"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR"},
      {{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}}, "MASTER_PORT"},
      {{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "1"}},
       "MIXCCL_ROOT_ADDR"},
      {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"MIXCCL_ROOT_ADDR", "nocolon"}}, "MIXCCL_ROOT_ADDR"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    pid_t pid = forkChild([&] {
      clearLauncherEnv();
      for (auto& [k, v] : cases[i].vars) setenv(k, v, 1);
      UniqueId id;
      int rank, nranks;
      Result res = uniqueIdFromEnv(&id, &rank, &nranks);
      if (res != mixcclInvalidUsage) return 1;
      if (strstr(lastErrorMessage(), cases[i].named) == nullptr) {
        fprintf(stderr, "message does not name %s: %s\n", cases[i].named, lastErrorMessage());
        return 2;
      }
      return 0;
    });
    EXPECT_EQ(waitChild(pid, 5), 0) << "case " << i << " (" << cases[i].named << ")";
  }
}

}  // namespace
}  // namespace mixccl

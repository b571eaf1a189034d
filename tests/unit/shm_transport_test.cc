// Tests of the shared-memory transport with real forked processes: data integrity and ordering for every pair and
// lane, backpressure, sleeping and waking, liveness, abort notices and /dev/shm hygiene. Every wait has a
// timeout; a failing rank fails the test with its own message.
#include "transports/shm/shm_transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_bootstrap.h"
#include "support/small_dev_shm.h"
#include "transports/shm/shm_segment.h"

namespace mixccl {
namespace {

using test::describeFailures;
using test::runForkedRanks;
using test::strPrintf;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Sets environment variables for the ranks forked while it lives (they read the config at first use).
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto& [name, value] : vars) {
      const char* old = getenv(name);
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    for (auto& [name, old] : saved_) {
      if (old) {
        setenv(name.c_str(), old->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::vector<int> rangeOfRanks(int first, int end) {
  std::vector<int> v;
  for (int r = first; r < end; ++r) v.push_back(r);
  return v;
}

Result createAll(Bootstrap& boot, std::unique_ptr<Transport>* out) {
  return createShmTransport(boot, rangeOfRanks(0, boot.nranks()), out);
}

// Waits until ready() or `timeoutSec` passes: polls briefly, then reads the token, re-checks and calls
// waitForEvent (which spins for MIXCCL_SPIN_US on the doorbell, then sleeps).
template <class Ready>
bool waitUntil(Transport& t, Ready ready, double timeoutSec) {
  auto t0 = Clock::now();
  while (secondsSince(t0) < 2e-6) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
    }
  }
  for (;;) {
    if (ready()) return true;
    uint32_t token = t.eventToken();
    if (ready()) return true;
    double left = timeoutSec - secondsSince(t0);
    if (left <= 0) return false;
    t.waitForEvent(token, uint64_t(std::min(left, 0.1) * 1e9));
  }
}

// The pids of all ranks (gathered), and the /dev/shm entries any of them owns.
std::vector<int32_t> gatherPids(Bootstrap& boot) {
  int32_t mine = int32_t(getpid());
  std::vector<int32_t> all(size_t(boot.nranks()));
  if (boot.allGather(&mine, all.data(), sizeof(mine)) != mixcclSuccess) return {};
  return all;
}
std::vector<std::string> segmentsOf(const std::vector<int32_t>& pids) {
  std::vector<std::string> found;
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return found;
  while (dirent* e = readdir(dir)) {
    for (int32_t pid : pids) {
      std::string prefix = "mixccl-" + std::to_string(pid) + "-";
      if (strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) found.push_back(e->d_name);
    }
  }
  closedir(dir);
  return found;
}

// Message contents: a deterministic function of (source, destination, lane, sequence number).
size_t messageBytes(int src, int lane, uint64_t seq, size_t slotBytes) {
  uint64_t h = seq * 2654435761u + uint64_t(src) * 97 + uint64_t(lane) * 13;
  return seq % 16 == 5 ? slotBytes : size_t(h % (slotBytes + 1));  // 0..slotBytes, full slots often
}
uint8_t messageByte(int src, int dst, int lane, uint64_t seq, size_t i) {
  return uint8_t(seq * 7 + uint64_t(src) * 31 + uint64_t(dst) * 17 + uint64_t(lane) * 5 + i * 13);
}

// ---------------------------------------------------------------------------------------------------------------

TEST(ShmTransport, AdvertisesCapsAndReachesExactlyItsLocalPeers) {
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "128K"}, {"MIXCCL_SHM_SLOTS", "8"}});
  auto outcomes = runForkedRanks(2, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    int me = boot.rank(), peer = 1 - me;
    RANK_REQUIRE(std::string(t->name()) == "shm", "name %s", t->name());
    const TransportCaps& c = t->caps();
    RANK_REQUIRE(c.slotBytes == 128 * 1024 && c.slotsPerChannel == 8 && c.maxLanes == 3 && c.memoryTypeMask == 1,
                 "caps slotBytes %zu slots %d lanes %d mask %u", c.slotBytes, c.slotsPerChannel, c.maxLanes,
                 c.memoryTypeMask);
    RANK_REQUIRE(c.latencySec > 0 && c.bandwidthBytesPerSec > 0, "costs must be numbers");
    RANK_REQUIRE(t->reaches(peer) && !t->reaches(me) && !t->reaches(-1) && !t->reaches(2), "reaches");
    RANK_REQUIRE(t->sendChannel(peer, 0) && t->sendChannel(peer, 2) && t->recvChannel(peer, 2), "channels");
    RANK_REQUIRE(!t->sendChannel(peer, 3) && !t->recvChannel(me, 0) && !t->sendChannel(5, 0), "no channels");
    std::string why;
    RANK_REQUIRE(t->checkPeer(peer, &why) == mixcclSuccess, "peer alive: %s", why.c_str());
    RANK_REQUIRE(t->abortNotice() == -1, "no abort yet");
    RANK_REQUIRE_OK(boot.barrier());  // the peer must not exit (and look dead) before our checks
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

TEST(ShmTransport, NothingIsLeftInDevShmAfterInitAndAfterDestroy) {
  std::vector<int32_t> pids(3);
  auto outcomes = runForkedRanks(3, 10, [](Bootstrap& boot) -> std::string {
    std::vector<int32_t> pids = gatherPids(boot);
    RANK_REQUIRE(pids.size() == 3, "pid exchange failed");
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    RANK_REQUIRE_OK(boot.barrier());  // every rank has returned from init
    auto left = segmentsOf(pids);
    RANK_REQUIRE(left.empty(), "after init: %s", left[0].c_str());
    t.reset();
    RANK_REQUIRE_OK(boot.barrier());
    left = segmentsOf(pids);
    RANK_REQUIRE(left.empty(), "after destroy: %s", left[0].c_str());
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

TEST(ShmSegment, AReservedSegmentLargerThanDevShmFailsAtCreateNamingItAndLeavesNothing) {
  // In a 16 MiB /dev/shm: 32 MiB reserved fail at once (not with SIGBUS at the first page tmpfs cannot give); sparse,
  // as the transport's FIFOs are, the same size is made, and the first pages touched.
  const std::string result = testing::withSmallDevShm(16, [] {
    std::unique_ptr<detail::ShmSegment> seg;
    const Result reserved = detail::ShmSegment::create(size_t(32) << 20, &seg, /*reserve=*/true);
    const std::string error = lastErrorMessage();
    bool ok = reserved == mixcclSystemError && seg == nullptr && error.find("/dev/shm") != std::string::npos;
    const auto left = segmentsOf({int32_t(getpid())});
    ok &= left.empty();
    std::printf("reserved: result %d, error \"%s\", %zu segment(s) left\n", int(reserved), error.c_str(), left.size());
    const Result sparse = detail::ShmSegment::create(size_t(32) << 20, &seg);
    ok &= sparse == mixcclSuccess && seg != nullptr;
    if (ok) std::memset(seg->base(), 1, 4096);
    std::printf("sparse: result %d\n", int(sparse));
    return ok;
  });
  if (result.rfind("skip: ", 0) == 0) GTEST_SKIP() << result.substr(6);
  EXPECT_EQ(result, "");
}

// Every rank sends `perStream` messages to every other rank on every lane and receives as many, all at once and
// non-blocking, checking sizes, contents and order.
class ShmExchangeTest : public ::testing::TestWithParam<int> {};

TEST_P(ShmExchangeTest, EveryPairEveryLaneInOrderWithVerifiedData) {
  const int nranks = GetParam();
  const uint64_t perStream = nranks <= 3 ? 1500 : 150;
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "8K"}, {"MIXCCL_SHM_SLOTS", "4"}});
  auto outcomes = runForkedRanks(nranks, 30, [perStream](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    const int me = boot.rank();
    const size_t slotBytes = t->caps().slotBytes;
    struct Stream {
      int peer, lane;
      SendChannel* send;
      RecvChannel* recv;
      uint64_t sent = 0, received = 0;
    };
    std::vector<Stream> streams;
    for (int peer = 0; peer < boot.nranks(); ++peer) {
      for (int lane = 0; peer != me && lane < t->caps().maxLanes; ++lane) {
        streams.push_back({peer, lane, t->sendChannel(peer, lane), t->recvChannel(peer, lane)});
        RANK_REQUIRE(streams.back().send && streams.back().recv, "missing channel to %d lane %d", peer, lane);
      }
    }
    auto pass = [&](bool* progressed) -> std::string {  // one non-blocking pass over all streams
      for (Stream& s : streams) {
        for (int burst = 0; burst < 4 && s.sent < perStream; ++burst) {
          auto* slot = static_cast<uint8_t*>(s.send->acquire());
          if (slot == nullptr) break;
          size_t n = messageBytes(me, s.lane, s.sent, slotBytes);
          for (size_t i = 0; i < n; ++i) slot[i] = messageByte(me, s.peer, s.lane, s.sent, i);
          s.send->post(n);
          ++s.sent;
          *progressed = true;
        }
        for (int burst = 0; burst < 4 && s.received < perStream; ++burst) {
          size_t n = 0;
          auto* msg = static_cast<const uint8_t*>(s.recv->peek(&n));
          if (msg == nullptr) break;
          size_t want = messageBytes(s.peer, s.lane, s.received, slotBytes);
          RANK_REQUIRE(n == want, "from %d lane %d message %llu: %zu bytes, expected %zu", s.peer, s.lane,
                       (unsigned long long)s.received, n, want);
          for (size_t i = 0; i < n; ++i) {
            RANK_REQUIRE(msg[i] == messageByte(s.peer, me, s.lane, s.received, i),
                         "from %d lane %d message %llu: wrong byte at %zu", s.peer, s.lane,
                         (unsigned long long)s.received, i);
          }
          s.recv->release();
          ++s.received;
          *progressed = true;
        }
      }
      return "";
    };
    auto done = [&] {
      for (const Stream& s : streams) {
        if (s.sent < perStream || s.received < perStream) return false;
      }
      return true;
    };
    auto t0 = Clock::now();
    while (!done()) {
      bool progressed = false;
      std::string err = pass(&progressed);
      if (!err.empty()) return err;
      if (progressed) continue;
      uint32_t token = t->eventToken();
      err = pass(&progressed);
      if (!err.empty()) return err;
      if (progressed) continue;
      RANK_REQUIRE(secondsSince(t0) < 20, "stuck: no progress for a long time");
      t->waitForEvent(token, 100'000'000);
    }
    RANK_REQUIRE_OK(boot.barrier());  // peers still read our releases until they finish
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

INSTANTIATE_TEST_SUITE_P(Ranks, ShmExchangeTest, ::testing::Values(2, 3, 8),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST(ShmTransport, AcquireReturnsNullWhileEverySlotIsInFlight) {
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "1K"}, {"MIXCCL_SHM_SLOTS", "4"}});
  auto outcomes = runForkedRanks(2, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    if (boot.rank() == 0) {
      SendChannel* s = t->sendChannel(1, 1);
      for (uint64_t i = 0; i < 4; ++i) {
        void* slot = s->acquire();
        RANK_REQUIRE(slot != nullptr, "slot %llu of 4 not available", (unsigned long long)i);
        RANK_REQUIRE(s->acquire() == slot, "acquire twice before post must return the same slot");
        memcpy(slot, &i, sizeof(i));
        s->post(sizeof(i));
      }
      RANK_REQUIRE(s->acquire() == nullptr, "a 5th slot while 4 are in flight");
      RANK_REQUIRE(t->sendChannel(1, 0)->acquire() != nullptr, "the other lane is independent");
      RANK_REQUIRE_OK(boot.barrier());
      // The receiver releases one message; its release must wake us.
      RANK_REQUIRE(waitUntil(
                       *t, [&] { return s->acquire() != nullptr; }, 5),
                   "no slot freed within 5 s");
      uint64_t i = 4;
      memcpy(s->acquire(), &i, sizeof(i));
      s->post(sizeof(i));
    } else {
      RecvChannel* r = t->recvChannel(0, 1);
      RANK_REQUIRE_OK(boot.barrier());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the sender go to sleep
      for (uint64_t i = 0; i < 5; ++i) {
        size_t n = 0;
        RANK_REQUIRE(waitUntil(
                         *t, [&] { return r->peek(&n) != nullptr; }, 5),
                     "message %llu missing", (unsigned long long)i);
        const void* msg = r->peek(&n);
        size_t n2 = 0;
        RANK_REQUIRE(r->peek(&n2) == msg && n2 == n, "peek twice before release must return the same message");
        uint64_t v = 0;
        memcpy(&v, msg, sizeof(v));
        RANK_REQUIRE(n == sizeof(v) && v == i, "message %llu: %zu bytes, value %llu", (unsigned long long)i, n,
                     (unsigned long long)v);
        r->release();
      }
      size_t n = 0;
      RANK_REQUIRE(t->recvChannel(0, 0)->peek(&n) == nullptr, "nothing was posted on lane 0");
    }
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

// A release wakes the sender only when the FIFO was full (the only time a sender waits for a slot): with more
// ranks than cores, a wake-up for a release the sender does not wait for costs a context switch.
TEST(ShmTransport, ReleaseRingsTheSenderOnlyWhenItsFifoWasFull) {
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "1K"}, {"MIXCCL_SHM_SLOTS", "4"}});
  auto outcomes = runForkedRanks(2, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    // Round 0: one message in flight when it is released. Round 1: all four.
    for (int round = 0; round < 2; ++round) {
      const uint64_t inFlight = round == 0 ? 1 : 4;
      uint32_t token = 0;
      if (boot.rank() == 0) {
        SendChannel* s = t->sendChannel(1, 0);
        for (uint64_t i = 0; i < inFlight; ++i) {
          RANK_REQUIRE(s->acquire() != nullptr, "round %d: slot %llu", round, (unsigned long long)i);
          s->post(0);
        }
        token = t->eventToken();
      }
      RANK_REQUIRE_OK(boot.barrier());
      if (boot.rank() == 1) {
        RecvChannel* r = t->recvChannel(0, 0);
        size_t n = 0;
        RANK_REQUIRE(waitUntil(*t, [&] { return r->peek(&n) != nullptr; }, 5), "round %d: no message", round);
        r->release();
      }
      RANK_REQUIRE_OK(boot.barrier());
      if (boot.rank() == 0) {
        const bool rung = t->eventToken() != token;
        RANK_REQUIRE(rung == (round == 1), "round %d (%llu of 4 slots in flight): the release %s the sender",
                     round, (unsigned long long)inFlight, rung ? "rang" : "did not ring");
      }
      if (boot.rank() == 1) {
        RecvChannel* r = t->recvChannel(0, 0);
        for (uint64_t i = 1; i < inFlight; ++i) {
          size_t n = 0;
          RANK_REQUIRE(waitUntil(*t, [&] { return r->peek(&n) != nullptr; }, 5), "round %d: message %llu", round,
                       (unsigned long long)i);
          r->release();
        }
      }
      RANK_REQUIRE_OK(boot.barrier());
    }
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

TEST(ShmTransport, SleepingReceiverIsWokenByAPost) {
  ScopedEnv env({{"MIXCCL_SPIN_US", "0"}});
  auto outcomes = runForkedRanks(2, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    RANK_REQUIRE_OK(boot.barrier());
    if (boot.rank() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      SendChannel* s = t->sendChannel(1, 0);
      s->acquire();
      s->post(0);
    } else {
      RecvChannel* r = t->recvChannel(0, 0);
      size_t n = 1;
      auto t0 = Clock::now();
      uint32_t token = t->eventToken();
      RANK_REQUIRE(r->peek(&n) == nullptr, "the message came too early");
      t->waitForEvent(token, 5'000'000'000);  // one sleep: only the post can end it early
      double waited = secondsSince(t0);
      RANK_REQUIRE(r->peek(&n) != nullptr && n == 0, "woken without the message after %.3f s", waited);
      RANK_REQUIRE(waited < 2.0, "slept %.3f s: the post did not wake the receiver", waited);
      r->release();
    }
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

// 10000 round trips of 8 bytes; rank 0 prints the round-trip time. Spin 0 forces every wait into the futex.
class ShmPingPongTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ShmPingPongTest, TenThousandRoundTripsTakeWellUnderTenSeconds) {
  ScopedEnv env({{"MIXCCL_SPIN_US", GetParam()}});
  auto outcomes = runForkedRanks(2, 30, [](Bootstrap& boot) -> std::string {
    constexpr uint64_t kRounds = 10000;
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    int me = boot.rank(), peer = 1 - me;
    SendChannel* s = t->sendChannel(peer, 0);
    RecvChannel* r = t->recvChannel(peer, 0);
    RANK_REQUIRE_OK(boot.barrier());
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < kRounds; ++i) {
      for (int turn = 0; turn < 2; ++turn) {
        if (turn == me) {
          void* slot = nullptr;
          RANK_REQUIRE(waitUntil(
                           *t, [&] { return (slot = s->acquire()) != nullptr; }, 5),
                       "no slot");
          memcpy(slot, &i, sizeof(i));
          s->post(sizeof(i));
        } else {
          size_t n = 0;
          const void* msg = nullptr;
          RANK_REQUIRE(waitUntil(
                           *t, [&] { return (msg = r->peek(&n)) != nullptr; }, 5),
                       "round %llu lost", (unsigned long long)i);
          uint64_t v = 0;
          memcpy(&v, msg, sizeof(v));
          RANK_REQUIRE(n == sizeof(v) && v == i, "round %llu: got %llu", (unsigned long long)i, (unsigned long long)v);
          r->release();
        }
      }
    }
    double sec = secondsSince(t0);
    if (me == 0)
      printf("[ shm ] ping-pong (spin %s us): %.2f us per round trip\n", getenv("MIXCCL_SPIN_US"), sec / kRounds * 1e6);
    RANK_REQUIRE(sec < 10, "10000 round trips took %.1f s", sec);
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
  std::string out = outcomes[0].output;
  if (!out.empty()) printf("%s", out.c_str());
}

INSTANTIATE_TEST_SUITE_P(Spin, ShmPingPongTest, ::testing::Values("50", "0"),
                         [](const auto& info) { return std::string("spin") + info.param + "us"; });

// One-way stream of 128 KiB messages, copied in by the sender and out by the receiver; rank 1 prints GB/s.
TEST(ShmTransport, StreamsFullSlotsOneWay) {
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "128K"}, {"MIXCCL_SHM_SLOTS", "8"}});
  auto outcomes = runForkedRanks(2, 30, [](Bootstrap& boot) -> std::string {
    constexpr uint64_t kMessages = 4000;
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    const size_t bytes = t->caps().slotBytes;
    std::vector<uint64_t> buf(bytes / sizeof(uint64_t));
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9e3779b97f4a7c15ull;
    RANK_REQUIRE_OK(boot.barrier());
    auto t0 = Clock::now();
    if (boot.rank() == 0) {
      SendChannel* s = t->sendChannel(1, 0);
      for (uint64_t m = 0; m < kMessages; ++m) {
        void* slot = nullptr;
        RANK_REQUIRE(waitUntil(
                         *t, [&] { return (slot = s->acquire()) != nullptr; }, 5),
                     "no slot");
        buf[0] = m;
        memcpy(slot, buf.data(), bytes);
        s->post(bytes);
      }
    } else {
      RecvChannel* r = t->recvChannel(0, 0);
      std::vector<uint64_t> out(buf.size());
      for (uint64_t m = 0; m < kMessages; ++m) {
        size_t n = 0;
        const void* msg = nullptr;
        RANK_REQUIRE(waitUntil(
                         *t, [&] { return (msg = r->peek(&n)) != nullptr; }, 5),
                     "message %llu lost", (unsigned long long)m);
        memcpy(out.data(), msg, n);
        r->release();
        RANK_REQUIRE(n == bytes && out[0] == m && out.back() == buf.back(), "message %llu corrupt",
                     (unsigned long long)m);
      }
      double sec = secondsSince(t0);
      printf("[ shm ] one-way stream of %zu-byte messages: %.2f GB/s (%.1f us per message)\n", bytes,
             double(bytes) * kMessages / sec / 1e9, sec / kMessages * 1e6);
      RANK_REQUIRE(sec < 10, "took %.1f s", sec);
    }
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
  if (!outcomes[1].output.empty()) printf("%s", outcomes[1].output.c_str());
}

// 8 ranks on (typically) 2 cores pass 5000 messages around a ring through 2-slot FIFOs, so ranks constantly
// sleep on full and empty FIFOs. A lost wake-up shows as a wait that ran into its timeout although the doorbell
// had been rung.
TEST(ShmTransport, RingOfEightRanksLosesNoWakeUps) {
  ScopedEnv env({{"MIXCCL_SHM_SLOT_BYTES", "256"}, {"MIXCCL_SHM_SLOTS", "2"}});
  auto outcomes = runForkedRanks(8, 60, [](Bootstrap& boot) -> std::string {
    constexpr uint64_t kMessages = 5000;
    constexpr uint64_t kWaitNs = 1'000'000'000;
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    const int n = boot.nranks(), me = boot.rank();
    SendChannel* s = t->sendChannel((me + 1) % n, 0);
    RecvChannel* r = t->recvChannel((me + n - 1) % n, 0);
    uint64_t sent = 0, received = 0;
    auto t0 = Clock::now();
    while (sent < kMessages || received < kMessages) {
      bool progressed = false;
      uint32_t token = t->eventToken();
      if (sent < kMessages) {
        if (void* slot = s->acquire()) {
          uint64_t v = sent * 1000 + uint64_t(me);
          memcpy(slot, &v, sizeof(v));
          s->post(sizeof(v));
          ++sent;
          progressed = true;
        }
      }
      size_t bytes = 0;
      if (received < kMessages) {
        if (const void* msg = r->peek(&bytes)) {
          uint64_t v = 0;
          memcpy(&v, msg, sizeof(v));
          uint64_t want = received * 1000 + uint64_t((me + n - 1) % n);
          RANK_REQUIRE(bytes == sizeof(v) && v == want, "message %llu: got %llu, expected %llu",
                       (unsigned long long)received, (unsigned long long)v, (unsigned long long)want);
          r->release();
          ++received;
          progressed = true;
        }
      }
      if (progressed) continue;
      RANK_REQUIRE(secondsSince(t0) < 30, "stuck after %llu sent, %llu received", (unsigned long long)sent,
                   (unsigned long long)received);
      auto w0 = Clock::now();
      t->waitForEvent(token, kWaitNs);
      bool rung = t->eventToken() != token;
      RANK_REQUIRE(!(rung && secondsSince(w0) >= 0.9),
                   "lost wake-up: slept %.2f s through a ring after %llu "
                   "sent, %llu received",
                   secondsSince(w0), (unsigned long long)sent, (unsigned long long)received);
    }
    RANK_REQUIRE_OK(boot.barrier());
    if (me == 0)
      printf("[ shm ] ring of %d ranks, %llu messages each: %.3f s\n", n, (unsigned long long)kMessages,
             secondsSince(t0));
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
  if (!outcomes[0].output.empty()) printf("%s", outcomes[0].output.c_str());
}

TEST(ShmTransport, StaleSegmentOfADeadProcessIsRemovedAtTheNextCreate) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  int status = 0;
  ASSERT_EQ(waitpid(dead, &status, 0), dead);  // reaped: the pid no longer exists
  std::string staleName = "/mixccl-" + std::to_string(dead) + "-00000000deadbeef";
  std::string liveName = "/mixccl-" + std::to_string(getpid()) + "-00000000feedface";  // ours: alive
  for (const std::string& name : {staleName, liveName}) {
    int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    close(fd);
  }
  auto outcomes = runForkedRanks(1, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    RANK_REQUIRE(!t->reaches(0), "a lone rank reaches nobody");
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
  EXPECT_NE(access(("/dev/shm" + staleName).c_str(), F_OK), 0) << "stale segment survived: " << staleName;
  EXPECT_EQ(access(("/dev/shm" + liveName).c_str(), F_OK), 0) << "a live process's segment was removed";
  shm_unlink(staleName.c_str());
  shm_unlink(liveName.c_str());
}

TEST(ShmTransport, SigkilledPeerIsReportedByCheckPeerPromptly) {
  auto outcomes = runForkedRanks(3, 10, [](Bootstrap& boot) -> std::string {
    std::vector<int32_t> pids = gatherPids(boot);
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    RANK_REQUIRE_OK(boot.barrier());
    if (boot.rank() == 2) raise(SIGKILL);
    auto t0 = Clock::now();
    Result res = mixcclSuccess;
    std::string why;
    while ((res = t->checkPeer(2, &why)) == mixcclSuccess && secondsSince(t0) < 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    double sec = secondsSince(t0);
    RANK_REQUIRE(res == mixcclRemoteError, "death of rank 2 not seen within 5 s (result %d)", int(res));
    std::string want = strPrintf("rank 2 (pid %d, host ", pids[2]);
    RANK_REQUIRE(why.find(want) != std::string::npos, "message '%s' lacks '%s'", why.c_str(), want.c_str());
    RANK_REQUIRE(t->checkPeer(2, &why) == mixcclRemoteError, "death is sticky");
    RANK_REQUIRE(t->checkPeer(1 - boot.rank(), &why) == mixcclSuccess, "the other peer is alive");
    RANK_REQUIRE(sec < 1.0, "detected only after %.3f s", sec);
    printf("[ shm ] rank %d saw the SIGKILL of rank 2 after %.1f ms\n", boot.rank(), sec * 1e3);
    // The bootstrap barrier would wait for rank 2: say "done" through the transport instead, so neither survivor
    // exits (and looks dead) before the other has checked it.
    int other = 1 - boot.rank();
    t->sendChannel(other, 0)->acquire();
    t->sendChannel(other, 0)->post(0);
    size_t n = 0;
    RANK_REQUIRE(waitUntil(
                     *t, [&] { return t->recvChannel(other, 0)->peek(&n) != nullptr; }, 5),
                 "no done");
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes, {2}), "");
  EXPECT_EQ(outcomes[2].signal, SIGKILL);
  printf("%s%s", outcomes[0].output.c_str(), outcomes[1].output.c_str());
}

TEST(ShmTransport, NotifyAbortWakesAndReachesEveryPeer) {
  auto outcomes = runForkedRanks(3, 10, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createAll(boot, &t));
    RANK_REQUIRE(t->abortNotice() == -1, "abort before anyone aborted");
    RANK_REQUIRE_OK(boot.barrier());
    if (boot.rank() == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the others fall asleep
      t->notifyAbort(2);
      RANK_REQUIRE(t->abortNotice() == 2, "own notice %d", t->abortNotice());
    } else {
      auto t0 = Clock::now();
      while (t->abortNotice() < 0 && secondsSince(t0) < 5) {
        uint32_t token = t->eventToken();
        if (t->abortNotice() >= 0) break;
        t->waitForEvent(token, 5'000'000'000);
      }
      double sec = secondsSince(t0);
      RANK_REQUIRE(t->abortNotice() == 2, "notice %d after %.3f s", t->abortNotice(), sec);
      RANK_REQUIRE(sec < 2.0, "the abort woke us only after %.3f s", sec);
    }
    RANK_REQUIRE_OK(boot.barrier());
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

TEST(ShmTransport, RankAloneOnItsHostTakesPartInTheSetup) {
  auto outcomes = runForkedRanks(3, 10, [](Bootstrap& boot) -> std::string {
    const int me = boot.rank();
    std::vector<int> local = me == 0 ? std::vector<int>{0} : std::vector<int>{1, 2};
    std::unique_ptr<Transport> t;
    RANK_REQUIRE_OK(createShmTransport(boot, local, &t));
    if (me == 0) {
      RANK_REQUIRE(!t->reaches(1) && !t->reaches(2) && t->sendChannel(1, 0) == nullptr, "rank 0 is alone");
    } else {
      RANK_REQUIRE(!t->reaches(0) && t->reaches(3 - me), "ranks 1 and 2 share a host");
      SendChannel* s = t->sendChannel(3 - me, 0);
      int v = me;
      memcpy(s->acquire(), &v, sizeof(v));
      s->post(sizeof(v));
      RecvChannel* r = t->recvChannel(3 - me, 0);
      size_t n = 0;
      const void* msg = nullptr;
      RANK_REQUIRE(waitUntil(
                       *t, [&] { return (msg = r->peek(&n)) != nullptr; }, 5),
                   "no message");
      memcpy(&v, msg, sizeof(v));
      RANK_REQUIRE(v == 3 - me, "got %d", v);
      r->release();
    }
    RANK_REQUIRE_OK(boot.barrier());
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

// A rank with bad arguments or different options must make every rank fail, none hang.
TEST(ShmTransport, SetupErrorsFailEveryRankWithoutHanging) {
  auto outcomes = runForkedRanks(3, 20, [](Bootstrap& boot) -> std::string {
    std::unique_ptr<Transport> t;
    std::vector<int> local = {0, 1, 2};
    if (boot.rank() == 1) local = {2, 1, 0};  // unsorted
    Result res = createShmTransport(boot, local, &t);
    RANK_REQUIRE(res != mixcclSuccess && t == nullptr, "bad localRanks on rank 1 succeeded");
    RANK_REQUIRE(res == (boot.rank() == 1 ? mixcclInvalidArgument : mixcclRemoteError), "result %d", int(res));

    if (boot.rank() == 2) setenv("MIXCCL_SHM_SLOTS", "3", 1);
    res = createShmTransport(boot, {0, 1, 2}, &t);
    RANK_REQUIRE(res != mixcclSuccess && t == nullptr, "different MIXCCL_SHM_SLOTS succeeded");
    RANK_REQUIRE(res == mixcclInvalidUsage || res == mixcclRemoteError, "result %d", int(res));
    return "";
  });
  EXPECT_EQ(describeFailures(outcomes), "");
}

}  // namespace
}  // namespace mixccl

/* The communicator-making and operator calls of libnccl.so.2, compiled against an nccl.h (the CUDA toolkit's where
 * present): ncclMemAlloc/Free; ncclCommInitAll with 3 ranks in this process and a grouped all-reduce over them;
 * then 4 forked ranks that init with ncclCommInitRankScalable (2 ids) and blocking = 0 (seen as ncclInProgress,
 * then ncclSuccess through ncclCommGetAsyncError), split into two colors and NOCOLOR, run pre-mul-sum all-reduces
 * and a reduce-scatter in several types, check that destroyed and foreign operators and an unimplemented call are
 * refused by name, and shrink away rank 3 (which leaves without a word). Every value is checked exactly. */
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nccl_abi_common.h"

#define N 4
#define COUNT 4099

static int failures = 0;
static void check(int ok, int rank, const char* what) {
  if (!ok) {
    fprintf(stderr, "rank %d: %s failed (last error: %s)\n", rank, what, ncclGetLastError(NULL));
    failures++;
  }
}

static int testMemAlloc(void) {
  void* p = NULL;
  check(ncclMemAlloc(&p, 3 * 4096 + 5) == ncclSuccess && p != NULL && ((uintptr_t)p % 4096) == 0, -1, "ncclMemAlloc");
  if (p != NULL) memset(p, 7, 3 * 4096 + 5);
  check(ncclMemFree(p) == ncclSuccess, -1, "ncclMemFree");
  void* q = NULL;
  check(ncclMemAlloc(&q, 0) == ncclInvalidArgument && strstr(ncclGetLastError(NULL), "MemAlloc") != NULL, -1,
        "ncclMemAlloc of 0 bytes refused");
  check(ncclMemFree(NULL) == ncclInvalidArgument && strstr(ncclGetLastError(NULL), "MemFree") != NULL, -1,
        "ncclMemFree(NULL) refused");
  return failures;
}

/* 3 ranks of one communicator in this process, driven by this one thread in a group. */
static int testInitAll(void) {
  ncclComm_t comms[3];
  int devs[3] = {0, 0, 0};
  if (ncclCommInitAll(comms, 3, devs) != ncclSuccess) {
    check(0, -1, "ncclCommInitAll");
    return failures;
  }
  int32_t* buf[3];
  for (int r = 0; r < 3; ++r) {
    int n = 0, me = -1;
    check(ncclCommCount(comms[r], &n) == ncclSuccess && n == 3, r, "InitAll count");
    check(ncclCommUserRank(comms[r], &me) == ncclSuccess && me == r, r, "InitAll rank");
    check(ncclMemAlloc((void**)&buf[r], COUNT * sizeof(int32_t)) == ncclSuccess, r, "ncclMemAlloc");
    for (int i = 0; i < COUNT; ++i) buf[r][i] = (r + 1) * (i % 7);
  }
  check(ncclGroupStart() == ncclSuccess, -1, "ncclGroupStart");
  for (int r = 0; r < 3; ++r) {
    check(ncclAllReduce(buf[r], buf[r], COUNT, ncclInt32, ncclSum, comms[r], NULL) == ncclSuccess, r,
          "InitAll ncclAllReduce");
  }
  check(ncclGroupEnd() == ncclSuccess, -1, "ncclGroupEnd");
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < COUNT; ++i) {
      if (buf[r][i] != 6 * (i % 7)) {
        check(0, r, "InitAll all-reduce value");
        break;
      }
    }
    ncclMemFree(buf[r]);
    check(ncclCommDestroy(comms[r]) == ncclSuccess, r, "ncclCommDestroy");
  }
  return failures;
}

static void sleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static ncclComm_t nonBlockingInit(int rank, ncclUniqueId* ids) {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  if (rank == 0) sleepMs(300); /* so that the others see their init in progress for a while */
  ncclComm_t comm = NULL;
  check(ncclCommInitRankScalable(&comm, N, rank, 2, ids, &config) == ncclInProgress && comm != NULL, rank,
        "non-blocking ncclCommInitRankScalable returns ncclInProgress");
  if (comm == NULL) return NULL;
  ncclResult_t state = ncclInProgress;
  int sawInProgress = 0;
  for (int i = 0; i < 60000 && state == ncclInProgress; ++i) {
    check(ncclCommGetAsyncError(comm, &state) == ncclSuccess, rank, "ncclCommGetAsyncError");
    if (state == ncclInProgress) {
      sawInProgress = 1;
      sleepMs(1);
    }
  }
  check(state == ncclSuccess, rank, "non-blocking init ends in ncclSuccess");
  if (rank != 0) check(sawInProgress, rank, "ncclCommGetAsyncError reported ncclInProgress during the init");
  return comm;
}

/* Colors: ranks 0 and 2 -> 0, rank 1 -> 1, rank 3 -> NOCOLOR; key -rank puts parent rank 2 first in color 0. */
static void testSplit(ncclComm_t comm, int rank, ncclComm_t* childOut) {
  int color = rank == 3 ? NCCL_SPLIT_NOCOLOR : rank % 2;
  ncclComm_t child = (ncclComm_t)(uintptr_t)1;
  check(ncclCommSplit(comm, color, -rank, &child, NULL) == ncclSuccess, rank, "ncclCommSplit");
  *childOut = child;
  if (rank == 3) {
    check(child == NULL, rank, "NOCOLOR gets a NULL communicator");
    return;
  }
  int n = 0, me = -1;
  check(ncclCommCount(child, &n) == ncclSuccess && n == (color == 0 ? 2 : 1), rank, "split count");
  const int wantRank = rank == 0 ? 1 : 0; /* color 0: parent 2 (key -2), then parent 0 */
  check(ncclCommUserRank(child, &me) == ncclSuccess && me == wantRank, rank, "split rank order by key");
  double mine[COUNT], sum[COUNT], gathered[2 * COUNT];
  for (int i = 0; i < COUNT; ++i) mine[i] = rank + 1 + i;
  check(ncclAllReduce(mine, sum, COUNT, ncclDouble, ncclSum, child, NULL) == ncclSuccess, rank, "split all-reduce");
  for (int i = 0; i < COUNT; ++i) {
    double want = color == 0 ? (1 + i) + (3 + i) : (2 + i);
    if (sum[i] != want) {
      check(0, rank, "split all-reduce value");
      break;
    }
  }
  check(ncclAllGather(mine, gathered, COUNT, ncclDouble, child, NULL) == ncclSuccess, rank, "split all-gather");
  if (color == 0) check(gathered[0] == 3.0 && gathered[COUNT] == 1.0, rank, "split all-gather order (parent 2, 0)");
}

/* Pre-mul-sum on the 4-rank communicator: each type's result is exact. */
static void testPreMulSum(ncclComm_t comm, ncclComm_t child, int rank) {
  ncclRedOp_t op;
  int32_t i32[COUNT], o32[COUNT];
  int32_t s32 = 3;
  for (int i = 0; i < COUNT; ++i) i32[i] = (rank + 1) * (i % 5);
  check(ncclRedOpCreatePreMulSum(&op, &s32, ncclInt32, ncclScalarHostImmediate, comm) == ncclSuccess &&
            (int)op >= (int)ncclNumOps, rank, "ncclRedOpCreatePreMulSum int32");
  s32 = 100; /* immediate: read at creation */
  check(ncclAllReduce(i32, o32, COUNT, ncclInt32, op, comm, NULL) == ncclSuccess, rank, "pre-mul-sum int32");
  for (int i = 0; i < COUNT; ++i) {
    if (o32[i] != 30 * (i % 5) || i32[i] != (rank + 1) * (i % 5)) {
      check(0, rank, "pre-mul-sum int32 value (and the send buffer unchanged)");
      break;
    }
  }
  /* in place, float */
  float f[COUNT];
  float sf = 0.5f;
  ncclRedOp_t opf;
  for (int i = 0; i < COUNT; ++i) f[i] = (float)(2 * (rank + 1));
  check(ncclRedOpCreatePreMulSum(&opf, &sf, ncclFloat32, ncclScalarHostImmediate, comm) == ncclSuccess, rank,
        "ncclRedOpCreatePreMulSum float");
  check(ncclAllReduce(f, f, COUNT, ncclFloat32, opf, comm, NULL) == ncclSuccess, rank, "pre-mul-sum float in place");
  check(f[0] == 10.0f && f[COUNT - 1] == 10.0f, rank, "pre-mul-sum float value");
  /* double with a "device" scalar that the host can read: read at every call */
  double d[COUNT], od[COUNT];
  double sd = 4.0;
  ncclRedOp_t opd;
  for (int i = 0; i < COUNT; ++i) d[i] = rank + 1;
  check(ncclRedOpCreatePreMulSum(&opd, &sd, ncclFloat64, ncclScalarDevice, comm) == ncclSuccess, rank,
        "ncclRedOpCreatePreMulSum double");
  check(ncclAllReduce(d, od, COUNT, ncclFloat64, opd, comm, NULL) == ncclSuccess && od[7] == 40.0, rank,
        "pre-mul-sum double");
  sd = 0.25;
  check(ncclAllReduce(d, od, COUNT, ncclFloat64, opd, comm, NULL) == ncclSuccess && od[7] == 2.5, rank,
        "pre-mul-sum double re-reads its device scalar");
  /* uint8 reduce-scatter and int64 reduce */
  uint8_t u8[N * 8], ou8[8];
  uint8_t su8 = 5;
  ncclRedOp_t opu;
  for (int i = 0; i < N * 8; ++i) u8[i] = (uint8_t)(i / 8 + 1);
  check(ncclRedOpCreatePreMulSum(&opu, &su8, ncclUint8, ncclScalarHostImmediate, comm) == ncclSuccess, rank,
        "ncclRedOpCreatePreMulSum uint8");
  check(ncclReduceScatter(u8, ou8, 8, ncclUint8, opu, comm, NULL) == ncclSuccess && ou8[3] == 5 * N * (rank + 1),
        rank, "pre-mul-sum uint8 reduce-scatter");
  int64_t i64[16], o64[16];
  int64_t s64 = -7;
  ncclRedOp_t op64;
  for (int i = 0; i < 16; ++i) i64[i] = rank;
  check(ncclRedOpCreatePreMulSum(&op64, &s64, ncclInt64, ncclScalarHostImmediate, comm) == ncclSuccess, rank,
        "ncclRedOpCreatePreMulSum int64");
  check(ncclReduce(i64, o64, 16, ncclInt64, op64, 1, comm, NULL) == ncclSuccess, rank, "pre-mul-sum int64 reduce");
  if (rank == 1) check(o64[15] == -7 * (0 + 1 + 2 + 3), rank, "pre-mul-sum int64 value");
  /* refusals: wrong type, foreign, destroyed */
  check(ncclAllReduce(f, f, COUNT, ncclFloat64, opf, comm, NULL) == ncclInvalidArgument, rank,
        "an operator used with another type is refused");
  if (child != NULL) {
    check(ncclAllReduce(i32, o32, COUNT, ncclInt32, op, child, NULL) == ncclInvalidArgument &&
              strstr(ncclGetLastError(child), "op") != NULL, rank, "another communicator's operator is refused");
  }
  check(ncclRedOpDestroy(op, comm) == ncclSuccess, rank, "ncclRedOpDestroy");
  check(ncclAllReduce(i32, o32, COUNT, ncclInt32, op, comm, NULL) == ncclInvalidArgument &&
            strstr(ncclGetLastError(comm), "destroyed") != NULL, rank, "a destroyed operator is refused");
  check(ncclRedOpDestroy(op, comm) == ncclInvalidArgument, rank, "a second ncclRedOpDestroy is refused");
  ncclRedOpDestroy(opf, comm);
  ncclRedOpDestroy(opd, comm);
  ncclRedOpDestroy(opu, comm);
  ncclRedOpDestroy(op64, comm);
}

static void testShrink(ncclComm_t comm, int rank) {
  int excluded[1] = {3};
  ncclComm_t small = NULL;
  check(ncclCommShrink(comm, excluded, 1, &small, NULL, NCCL_SHRINK_DEFAULT) == ncclSuccess && small != NULL, rank,
        "ncclCommShrink");
  if (small == NULL) return;
  int n = 0, me = -1;
  check(ncclCommCount(small, &n) == ncclSuccess && n == 3, rank, "shrink count");
  check(ncclCommUserRank(small, &me) == ncclSuccess && me == rank, rank, "shrink rank");
  int32_t v[COUNT], s[COUNT];
  for (int i = 0; i < COUNT; ++i) v[i] = rank + 1;
  check(ncclAllReduce(v, s, COUNT, ncclInt32, ncclSum, small, NULL) == ncclSuccess && s[COUNT - 1] == 6, rank,
        "shrink all-reduce");
  check(ncclCommDestroy(small) == ncclSuccess, rank, "destroy shrunk communicator");
}

static int runRank(int rank, ncclUniqueId* ids) {
  ncclComm_t comm = nonBlockingInit(rank, ids);
  if (comm == NULL) return 1;
  ncclComm_t child = NULL;
  testSplit(comm, rank, &child);
  testPreMulSum(comm, child, rank);
  check(ncclCommRevoke(comm, 0) == ncclInvalidUsage && strstr(ncclGetLastError(comm), "ncclCommRevoke") != NULL,
        rank, "unimplemented ncclCommRevoke reported by name");
  if (child != NULL) check(ncclCommDestroy(child) == ncclSuccess, rank, "destroy split communicator");
  if (rank == 3) _exit(failures ? 1 : 0); /* leaves without destroying anything: the others shrink it away */
  testShrink(comm, rank);
  check(ncclCommDestroy(comm) == ncclSuccess, rank, "ncclCommDestroy");
  return failures ? 1 : 0;
}

int main(void) {
  if (testMemAlloc() || testInitAll()) return 1;
  ncclUniqueId ids[2];
  if (getUniqueIds(ids, 2)) return 1;
  int failed = runForkedRanks(N, runRank, ids);
  printf("nccl_abi_comms_test: %s\n", failed ? "FAILED" : "InitAll, 4 forked ranks: split, pre-mul-sum, shrink passed");
  return failed;
}

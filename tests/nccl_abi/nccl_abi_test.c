/* Links against mixccl's libnccl.so.2 while compiled with an nccl.h (the CUDA toolkit's where present, else
 * mixccl's own): 3 forked host-memory ranks run ncclAllReduce, ncclAllGather, ncclReduceScatter, ncclBroadcast,
 * ncclBcast, ncclReduce and a ring of ncclSend/ncclRecv in a group, with a NULL stream, and check every element;
 * an unimplemented call must fail with ncclInvalidUsage and a message naming it. Exit 0 when all holds. */
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nccl_abi_common.h"

#define N 3
#define COUNT 100003

static int check(int ok, int rank, const char* what) {
  if (!ok) fprintf(stderr, "rank %d: %s failed\n", rank, what);
  return ok;
}

static int runRank(int rank, ncclUniqueId* ids) {
  ncclComm_t comm;
  if (ncclCommInitRank(&comm, N, ids[0], rank) != ncclSuccess) {
    fprintf(stderr, "rank %d: init: %s\n", rank, ncclGetLastError(NULL));
    return 1;
  }
  int ok = 1, n = 0, me = -1;
  ok &= check(ncclCommCount(comm, &n) == ncclSuccess && n == N, rank, "ncclCommCount");
  ok &= check(ncclCommUserRank(comm, &me) == ncclSuccess && me == rank, rank, "ncclCommUserRank");
  float* a = malloc(sizeof(float) * COUNT * N);
  float* b = malloc(sizeof(float) * COUNT * N);
  for (int i = 0; i < COUNT; ++i) a[i] = (float)(rank + 1);
  ok &= check(ncclAllReduce(a, b, COUNT, ncclFloat, ncclSum, comm, NULL) == ncclSuccess, rank, "ncclAllReduce");
  for (int i = 0; i < COUNT; ++i) ok &= check(b[i] == 6.0f, rank, "all-reduce value") || (i = COUNT);
  ok &= check(ncclAllGather(a, b, COUNT, ncclFloat, comm, NULL) == ncclSuccess, rank, "ncclAllGather");
  for (int r = 0; r < N; ++r) ok &= check(b[r * COUNT + 7] == (float)(r + 1), rank, "all-gather value");
  for (int i = 0; i < COUNT * N; ++i) a[i] = (float)(i / COUNT + rank);
  ok &= check(ncclReduceScatter(a, b, COUNT, ncclFloat, ncclMax, comm, NULL) == ncclSuccess, rank,
              "ncclReduceScatter");
  ok &= check(b[5] == (float)(rank + N - 1), rank, "reduce-scatter value");
  for (int i = 0; i < COUNT; ++i) a[i] = rank == 1 ? 42.0f : 0.0f;
  ok &= check(ncclBroadcast(a, b, COUNT, ncclFloat, 1, comm, NULL) == ncclSuccess, rank, "ncclBroadcast");
  ok &= check(b[COUNT - 1] == 42.0f, rank, "broadcast value");
  ok &= check(ncclBcast(a, COUNT, ncclFloat, 1, comm, NULL) == ncclSuccess && a[3] == 42.0f, rank, "ncclBcast");
  for (int i = 0; i < COUNT; ++i) a[i] = 2.0f;
  ok &= check(ncclReduce(a, b, COUNT, ncclFloat, ncclProd, 2, comm, NULL) == ncclSuccess, rank, "ncclReduce");
  if (rank == 2) ok &= check(b[11] == 8.0f, rank, "reduce value");
  for (int i = 0; i < COUNT; ++i) a[i] = (float)rank;
  ok &= check(ncclGroupStart() == ncclSuccess, rank, "ncclGroupStart");
  ok &= check(ncclSend(a, COUNT, ncclFloat, (rank + 1) % N, comm, NULL) == ncclSuccess, rank, "ncclSend");
  ok &= check(ncclRecv(b, COUNT, ncclFloat, (rank + N - 1) % N, comm, NULL) == ncclSuccess, rank, "ncclRecv");
  ok &= check(ncclGroupEnd() == ncclSuccess, rank, "ncclGroupEnd");
  ok &= check(b[COUNT / 2] == (float)((rank + N - 1) % N), rank, "send/recv value");
  ncclWindow_t win = NULL;
  ok &= check(ncclCommWindowRegister(comm, a, 64, &win, 0) == ncclInvalidUsage &&
                  strstr(ncclGetLastError(comm), "ncclCommWindowRegister") != NULL,
              rank, "unimplemented ncclCommWindowRegister reported");
  int version = 0;
  ok &= check(ncclGetVersion(&version) == ncclSuccess && version == 22809, rank, "ncclGetVersion");
  ok &= check(ncclCommDestroy(comm) == ncclSuccess, rank, "ncclCommDestroy");
  free(a);
  free(b);
  return ok ? 0 : 1;
}

int main(void) {
  ncclUniqueId id;
  if (getUniqueIds(&id, 1)) return 1;
  int failed = runForkedRanks(N, runRank, &id);
  printf("nccl_abi_test: %s\n", failed ? "FAILED" : "3 ranks passed");
  return failed;
}

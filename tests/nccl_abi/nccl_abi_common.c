#include "nccl_abi_common.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int getUniqueIds(ncclUniqueId* ids, int n) {
  for (int i = 0; i < n; ++i) {
    if (ncclGetUniqueId(&ids[i]) != ncclSuccess) {
      fprintf(stderr, "ncclGetUniqueId: %s\n", ncclGetLastError(NULL));
      return 1;
    }
  }
  return 0;
}

int runForkedRanks(int nranks, int (*runRank)(int rank, ncclUniqueId* ids), ncclUniqueId* ids) {
  pid_t pids[nranks];
  for (int r = 0; r < nranks; ++r) {
    pids[r] = fork();
    if (pids[r] == 0) _exit(runRank(r, ids));
  }
  int failed = 0;
  for (int r = 0; r < nranks; ++r) {
    int status = 0;
    waitpid(pids[r], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "rank %d failed (status %d)\n", r, status);
      failed = 1;
    }
  }
  return failed;
}

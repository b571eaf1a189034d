/* What the nccl_abi test programs share: making unique ids and running forked ranks, each program's rank body in
 * its own child process. */
#ifndef MIXCCL_TESTS_NCCL_ABI_COMMON_H
#define MIXCCL_TESTS_NCCL_ABI_COMMON_H

#include <nccl.h>

/* Fills ids[0..n) with ncclGetUniqueId; on failure prints the last error and returns 1, else 0. */
int getUniqueIds(ncclUniqueId* ids, int n);

/* Forks `nranks` children, child r exiting with runRank(r, ids), and waits for all of them. Prints
 * "rank R failed (status S)" for each that did not exit with 0; returns 1 if any did not, else 0. */
int runForkedRanks(int nranks, int (*runRank)(int rank, ncclUniqueId* ids), ncclUniqueId* ids);

#endif

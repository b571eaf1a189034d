/* Links against an installed mixccl, runs a one-rank all-reduce, prints the version. */
#include <mixccl.h>
#include <stdio.h>

int main(void) {
  int version = 0;
  mixcclUniqueId id;
  mixcclComm_t comm;
  float in[4] = {1, 2, 3, 4}, out[4] = {0};
  if (mixcclGetVersion(&version) != mixcclSuccess || mixcclGetUniqueId(&id) != mixcclSuccess ||
      mixcclCommInitRank(&comm, 1, id, 0) != mixcclSuccess ||
      mixcclAllReduce(in, out, 4, mixcclFloat32, mixcclSum, comm, NULL) != mixcclSuccess) {
    fprintf(stderr, "consumer: %s\n", mixcclGetLastError(NULL));
    return 1;
  }
  mixcclCommDestroy(comm);
  if (out[3] != 4.0f) return 1;
  printf("consumer: mixccl %d ok\n", version);
  return 0;
}

/*
 * mpi_allreduce_bench: MPI_Allreduce(MPI_FLOAT, MPI_SUM) on host memory, timed exactly as all_reduce_perf
 * times mixcclAllReduce (NCCL-TESTS-FORMAT.md "Timing"): per size, warm-up iterations, one untimed op, a
 * barrier (a 1-element all-reduce), a steady clock around `iters` back-to-back ops, time per op = elapsed /
 * iters, averaged over ranks; out-of-place, then in-place (MPI_IN_PLACE). Prints the nccl-tests columns so
 * perf/compare/compare_openmpi.sh parses both tools' rows the same way.
 *
 * usage: mpirun -np N mpi_allreduce_bench [-b minbytes] [-e maxbytes] [-f factor] [-n iters] [-w warmup] [-c 0|1]
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  size_t minBytes, maxBytes, stepFactor;
  int iters, warmup, check;
} Options;

static double nowSeconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "32M" -> 33554432 (K/M/G powers of 1024); 0 on a malformed value. */
static size_t parseSize(const char* s) {
  char* end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return 0;
  if (*end == 'K' || *end == 'k') v <<= 10, ++end;
  else if (*end == 'M' || *end == 'm') v <<= 20, ++end;
  else if (*end == 'G' || *end == 'g') v <<= 30, ++end;
  return *end == '\0' ? (size_t)v : 0;
}

static int parseOptions(int argc, char** argv, Options* o) {
  o->minBytes = o->maxBytes = 32u << 20;
  o->stepFactor = 2;
  o->iters = 20;
  o->warmup = 1;
  o->check = 1;
  for (int i = 1; i < argc; ++i) {
    if (strlen(argv[i]) != 2 || argv[i][0] != '-' || i + 1 >= argc) return 0;
    const char* v = argv[++i];
    switch (argv[i - 1][1]) {
      case 'b': o->minBytes = parseSize(v); break;
      case 'e': o->maxBytes = parseSize(v); break;
      case 'f': o->stepFactor = (size_t)atol(v); break;
      case 'n': o->iters = atoi(v); break;
      case 'w': o->warmup = atoi(v); break;
      case 'c': o->check = atoi(v); break;
      default: return 0;
    }
  }
  return o->minBytes > 0 && o->maxBytes >= o->minBytes && o->stepFactor >= 2 && o->iters > 0 && o->warmup >= 0;
}

/* The widest of %.2f / %.1f / %.0f that fits in `width` (as the nccl-tests columns). */
static void formatNumber(char* out, size_t cap, double v, int width) {
  for (int precision = 2; precision >= 0; --precision) {
    snprintf(out, cap, "%*.*f", width, precision, v);
    if ((int)strlen(out) <= width) return;
  }
}

static void barrier(void) {
  float token = 0;
  MPI_Allreduce(MPI_IN_PLACE, &token, 1, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

/* Times one variant; returns the per-op time in seconds, averaged over ranks. */
static double timeVariant(const Options* o, float* send, float* recv, int count, int inPlace, int nranks) {
  const void* src = inPlace ? MPI_IN_PLACE : (const void*)send;
  for (int i = 0; i < o->warmup + 1; ++i) MPI_Allreduce(src, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  barrier();
  double start = nowSeconds();
  for (int i = 0; i < o->iters; ++i) MPI_Allreduce(src, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  double mine = (nowSeconds() - start) / o->iters, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return sum / nranks;
}

/* Exact inputs (small integers) and a bitwise check; returns #wrong over all ranks. */
static long long checkVariant(float* send, float* recv, int count, int inPlace, int rank, int nranks) {
  float* in = inPlace ? recv : send;
  for (int i = 0; i < count; ++i) in[i] = (float)((i + rank) % 8);
  if (!inPlace) memset(recv, 0xA5, (size_t)count * sizeof(float));
  MPI_Allreduce(inPlace ? MPI_IN_PLACE : (const void*)send, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  long long wrong = 0, total = 0;
  for (int i = 0; i < count; ++i) {
    float want = 0;
    for (int r = 0; r < nranks; ++r) want += (float)((i + r) % 8);
    wrong += memcmp(&recv[i], &want, sizeof(float)) != 0;
  }
  MPI_Allreduce(&wrong, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  Options o;
  if (!parseOptions(argc, argv, &o)) {
    if (rank == 0) {
      fprintf(stderr, "usage: %s [-b minbytes] [-e maxbytes] [-f factor>=2] [-n iters] [-w warmup] [-c 0|1]\n",
              argv[0]);
    }
    MPI_Finalize();
    return 2;
  }
  float* send = aligned_alloc(64, (o.maxBytes + 63) / 64 * 64);
  float* recv = aligned_alloc(64, (o.maxBytes + 63) / 64 * 64);
  memset(send, 0, (o.maxBytes + 63) / 64 * 64);
  memset(recv, 0, (o.maxBytes + 63) / 64 * 64);
  if (rank == 0) {
    printf("# Collective test starting: mpi_allreduce_bench (MPI_Allreduce, %d ranks)\n", nranks);
    printf("#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw"
           "   busbw  #wrong\n");
  }
  double busSum = 0;
  int rows = 0;
  long long totalWrong = 0;
  for (size_t bytes = o.minBytes; bytes <= o.maxBytes; bytes *= o.stepFactor) {
    int count = (int)(bytes / sizeof(float));
    if (rank == 0) printf("%12zu  %12d  %8s  %6s  %6s", (size_t)count * sizeof(float), count, "float", "sum", "-1");
    for (int inPlace = 0; inPlace <= 1; ++inPlace) {
      double t = timeVariant(&o, send, recv, count, inPlace, nranks);
      double algbw = t > 0 ? (double)count * sizeof(float) / 1e9 / t : 0;
      double busbw = algbw * 2.0 * (nranks - 1) / nranks;
      long long wrong = o.check ? checkVariant(send, recv, count, inPlace, rank, nranks) : -1;
      busSum += busbw;
      totalWrong += wrong > 0 ? wrong : 0;
      if (rank == 0) {
        char ts[32], as[32], bs[32], ws[32];
        formatNumber(ts, sizeof ts, t * 1e6, 7);
        formatNumber(as, sizeof as, algbw, 6);
        formatNumber(bs, sizeof bs, busbw, 6);
        if (wrong < 0) snprintf(ws, sizeof ws, "N/A");
        else snprintf(ws, sizeof ws, "%lld", wrong);
        printf("  %s  %s  %s  %6s", ts, as, bs, ws);
      }
    }
    if (rank == 0) printf("\n");
    fflush(stdout);
    rows += 2;
  }
  if (rank == 0) {
    printf("# Out of bounds values : %lld %s\n", totalWrong, totalWrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g\n#\n", rows ? busSum / rows : 0.0);
  }
  free(send);
  free(recv);
  MPI_Finalize();
  return totalWrong ? 3 : 0;
}

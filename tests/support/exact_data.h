#pragma once
// Inputs whose reductions are exact in every order and every data type, and the matching expected outputs,
// so a check can be bitwise and every wrong element is a bug (the nccl-tests "#wrong" convention).
//
// Element values are small integers: for sum/avg at most 8 ranks contribute a 1 to an element (so every
// partial sum is exact even in fp8 E5M2), for prod at most three ranks contribute a 2 (product <= 8), max/min
// take values 0..6, and copies (all-gather, broadcast) use values up to the largest integer the type holds
// exactly. Which ranks contribute varies with the element index, so a misplaced chunk or a lost rank shows.
// Used by the tests and the perf tools alike.
#include <cstddef>
#include <cstdint>

#include "mixccl.h"

namespace mixccl::testdata {

// The value rank `rank` of `nranks` holds at global element `index` (reduce: inputs of a reduction with `op`;
// otherwise data that is only copied).
double inputValue(bool reduce, mixcclRedOp_t op, mixcclDataType_t dt, int rank, int nranks, uint64_t index);

// The reduction of inputValue over all ranks at `index`, with avg's division done as the library does it
// (integers: truncating division; floats: in fp32 (fp64 for double), rounded to the type).
void expectedReduced(void* out, mixcclRedOp_t op, mixcclDataType_t dt, int nranks, uint64_t index);

// Writes elements [first, first + count) of rank `rank`'s data (encoded in `dt`) to buf.
void fillInput(void* buf, bool reduce, mixcclRedOp_t op, mixcclDataType_t dt, int rank, int nranks, uint64_t first,
               uint64_t count);
// Writes elements [first, first + count) of the reduced result to buf.
void fillReduced(void* buf, mixcclRedOp_t op, mixcclDataType_t dt, int nranks, uint64_t first, uint64_t count);

// Encodes a small integer-valued double into one element of `dt`.
void encodeValue(void* out, mixcclDataType_t dt, double value);

// Number of elements of `dt` whose bytes differ between got and want.
uint64_t countWrong(const void* got, const void* want, mixcclDataType_t dt, uint64_t count);

// For a whole collective (coll: 0 all-reduce, 1 all-gather, 2 reduce-scatter, 3 broadcast, 4 reduce, as
// CollType): fills this rank's send buffer, and the receive buffer it must end with (reduce: the root's; the
// other ranks' receive buffers are not written by a reduce).
void fillSend(int coll, void* sendbuf, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root, int rank,
              int nranks);
void fillExpectedRecv(int coll, void* want, uint64_t count, mixcclDataType_t dt, mixcclRedOp_t op, int root,
                      int rank, int nranks);

}  // namespace mixccl::testdata

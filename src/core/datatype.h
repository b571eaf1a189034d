#pragma once
// Facts about the public data types and reduction operators: sizes, names, validity.
#include <cstddef>

#include "mixccl.h"

namespace mixccl {

inline bool isValidDataType(int dt) { return dt >= 0 && dt < mixcclNumTypes; }
inline bool isValidRedOp(int op) { return op >= 0 && op < mixcclNumOps; }

// Bytes per element (1, 2, 4 or 8).
size_t dataTypeSize(mixcclDataType_t dt);

// nccl-tests spelling: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16 f8e4m3 f8e5m2.
const char* dataTypeName(mixcclDataType_t dt);
// sum prod max min avg.
const char* redOpName(mixcclRedOp_t op);

// Inverse of the names above (also accepts a few common aliases); false if unknown.
bool parseDataType(const char* name, mixcclDataType_t* out);
bool parseRedOp(const char* name, mixcclRedOp_t* out);

}  // namespace mixccl

#include "core/datatype.h"

#include <cstring>

namespace mixccl {
namespace {
struct TypeInfo {
  const char* name;
  size_t size;
};
constexpr TypeInfo kTypes[mixcclNumTypes] = {
    {"int8", 1},  {"uint8", 1}, {"int32", 4},  {"uint32", 4},    {"int64", 8},  {"uint64", 8},
    {"half", 2},  {"float", 4}, {"double", 8}, {"bfloat16", 2}, {"f8e4m3", 1}, {"f8e5m2", 1},
};
constexpr const char* kOps[mixcclNumOps] = {"sum", "prod", "max", "min", "avg"};
}  // namespace

size_t dataTypeSize(mixcclDataType_t dt) { return isValidDataType(dt) ? kTypes[dt].size : 0; }

const char* dataTypeName(mixcclDataType_t dt) { return isValidDataType(dt) ? kTypes[dt].name : "invalid"; }

const char* redOpName(mixcclRedOp_t op) { return isValidRedOp(op) ? kOps[op] : "invalid"; }

bool parseDataType(const char* name, mixcclDataType_t* out) {
  struct Alias {
    const char* name;
    mixcclDataType_t dt;
  };
  static const Alias kAliases[] = {{"char", mixcclInt8},       {"int", mixcclInt32},   {"float16", mixcclFloat16},
                                   {"fp16", mixcclFloat16},    {"float32", mixcclFloat32}, {"fp32", mixcclFloat32},
                                   {"float64", mixcclFloat64}, {"bf16", mixcclBfloat16}, {"fp8e4m3", mixcclFloat8e4m3},
                                   {"fp8e5m2", mixcclFloat8e5m2}};
  for (int i = 0; i < mixcclNumTypes; ++i) {
    if (strcmp(name, kTypes[i].name) == 0) {
      *out = static_cast<mixcclDataType_t>(i);
      return true;
    }
  }
  for (const Alias& a : kAliases) {
    if (strcmp(name, a.name) == 0) {
      *out = a.dt;
      return true;
    }
  }
  return false;
}

bool parseRedOp(const char* name, mixcclRedOp_t* out) {
  for (int i = 0; i < mixcclNumOps; ++i) {
    if (strcmp(name, kOps[i]) == 0) {
      *out = static_cast<mixcclRedOp_t>(i);
      return true;
    }
  }
  return false;
}

}  // namespace mixccl

#include "core/pre_mul_sum.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <new>

#include "core/datatype.h"
#include "device/device_backend.h"

namespace mixccl {
namespace {

std::atomic<int> gNextOp{mixcclNumOps};

}  // namespace

Result PreMulSumOps::create(void* scalar, mixcclDataType_t dtype, mixcclScalarResidence_t residence,
                            mixcclRedOp_t* op) {
  if (op == nullptr) return fail(mixcclInvalidArgument, "mixcclRedOpCreatePreMulSum: op (output pointer) is NULL");
  if (scalar == nullptr) return fail(mixcclInvalidArgument, "mixcclRedOpCreatePreMulSum: scalar is NULL");
  if (!isValidDataType(dtype)) {
    return failf(mixcclInvalidArgument, "mixcclRedOpCreatePreMulSum: invalid datatype %d", dtype);
  }
  if (residence != mixcclScalarDevice && residence != mixcclScalarHostImmediate) {
    return failf(mixcclInvalidArgument, "mixcclRedOpCreatePreMulSum: invalid scalar residence %d", residence);
  }
  const int value = gNextOp.fetch_add(1);
  if (value < mixcclNumOps || value == INT_MAX) {
    return fail(mixcclInternalError, "mixcclRedOpCreatePreMulSum: this process ran out of operator values");
  }
  PreMulSumOp entry;
  entry.dtype = dtype;
  if (residence == mixcclScalarHostImmediate) {
    memcpy(entry.immediate, scalar, dataTypeSize(dtype));
  } else {
    entry.pointer = scalar;
  }
  ops_[value] = entry;
  *op = static_cast<mixcclRedOp_t>(value);
  return mixcclSuccess;
}

Result PreMulSumOps::destroy(mixcclRedOp_t op) {
  if (static_cast<int>(op) < mixcclNumOps) {
    return failf(mixcclInvalidArgument, "mixcclRedOpDestroy: op %d is a built-in operator, not a created one", op);
  }
  if (ops_.erase(op) == 0) {
    return failf(mixcclInvalidArgument, "mixcclRedOpDestroy: op %d was not created on this communicator (or was "
                 "destroyed already)", op);
  }
  return mixcclSuccess;
}

Result PreMulSumOps::find(mixcclRedOp_t op, mixcclDataType_t dtype, const char* fn, const PreMulSumOp** out) const {
  auto it = ops_.find(op);
  if (it == ops_.end()) {
    return failf(mixcclInvalidArgument, "%s: reduction op %d is neither built in nor a live operator of this "
                 "communicator (destroyed, or created on another one?)", fn, op);
  }
  if (it->second.dtype != dtype) {
    return failf(mixcclInvalidArgument, "%s: reduction op %d was created for %s, the call is on %s", fn, op,
                 dataTypeName(it->second.dtype), dataTypeName(dtype));
  }
  *out = &it->second;
  return mixcclSuccess;
}

Result scaleInput(const PreMulSumOp& op, const void* src, uint64_t count, std::shared_ptr<char[]>* out) {
  const size_t esz = dataTypeSize(op.dtype);
  std::shared_ptr<char[]> scaled(new (std::nothrow) char[count * esz]);
  if (!scaled) {
    return failf(mixcclSystemError, "pre-mul-sum: cannot allocate %llu bytes for the scaled input",
                 static_cast<unsigned long long>(count * esz));
  }
  // A block of copies of the scalar, multiplied element-wise with the input block by block (the backend's
  // product handles every type, the narrow floating ones included).
  constexpr size_t kBlock = 1024;
  alignas(64) char scalars[kBlock * 8];
  const void* scalar = op.pointer != nullptr ? op.pointer : op.immediate;
  for (size_t i = 0; i < kBlock; ++i) memcpy(scalars + i * esz, scalar, esz);
  const ReduceSpec spec{op.dtype, mixcclProd, 0};
  const char* in = static_cast<const char*>(src);
  for (uint64_t done = 0; done < count; done += kBlock) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, count - done));
    cpuBackend().reduce(scaled.get() + done * esz, in + done * esz, scalars, n, spec);
  }
  *out = std::move(scaled);
  return mixcclSuccess;
}

}  // namespace mixccl

#pragma once
// Pre-multiplied sums: reduction operators a user creates on one communicator (mixcclRedOpCreatePreMulSum). Each
// rank's input is multiplied by the operator's scalar into a temporary, and the temporary is summed by the usual
// algorithms, so the user's send buffer is never modified and the algorithms only ever see mixcclSum.
//
// Operator values are unique in the process (a counter from mixcclNumOps up), so an operator of another
// communicator, or a destroyed one, is recognised and refused by name. Used by the one thread that uses the
// communicator (not thread-safe).
#include <cstdint>
#include <map>
#include <memory>

#include "core/status.h"
#include "engine/coll_args.h"

namespace mixccl {

struct PreMulSumOp {
  mixcclDataType_t dtype = mixcclFloat32;
  uint8_t immediate[8] = {};       // the scalar, read at creation (mixcclScalarHostImmediate)
  const void* pointer = nullptr;   // else read here at every collective (mixcclScalarDevice, host-readable)
};

class PreMulSumOps {
 public:
  // Validates and records a new operator; *op is written only on success.
  Result create(void* scalar, mixcclDataType_t dtype, mixcclScalarResidence_t residence, mixcclRedOp_t* op);
  Result destroy(mixcclRedOp_t op);
  // The operator `op` for a collective of `dtype` called by `fn`, or an error naming both.
  Result find(mixcclRedOp_t op, mixcclDataType_t dtype, const char* fn, const PreMulSumOp** out) const;

 private:
  std::map<int, PreMulSumOp> ops_;
};

// The `count` elements at `src` multiplied by op's scalar, in a new host buffer (*out). The multiplication rounds
// as the CPU backend's product does (fp16/bf16/fp8 through fp32).
Result scaleInput(const PreMulSumOp& op, const void* src, uint64_t count, std::shared_ptr<char[]>* out);

}  // namespace mixccl

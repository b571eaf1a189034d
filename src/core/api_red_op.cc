// C API: reduction operators a user creates on a communicator (pre-multiplied sums, core/pre_mul_sum.h).
#include "core/comm_handle.h"
#include "core/pre_mul_sum.h"

using namespace mixccl;

extern "C" {

mixcclResult_t mixcclRedOpCreatePreMulSum(mixcclRedOp_t* op, void* scalar, mixcclDataType_t datatype,
                                          mixcclScalarResidence_t residence, mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclRedOpCreatePreMulSum"));
  if (!comm->userOps) comm->userOps = std::make_unique<PreMulSumOps>();
  return comm->userOps->create(scalar, datatype, residence, op);
}

mixcclResult_t mixcclRedOpDestroy(mixcclRedOp_t op, mixcclComm_t comm) {
  clearLastError();
  MIXCCL_TRY(readyComm(comm, "mixcclRedOpDestroy"));
  if (!comm->userOps) comm->userOps = std::make_unique<PreMulSumOps>();
  return comm->userOps->destroy(op);
}

}  // extern "C"

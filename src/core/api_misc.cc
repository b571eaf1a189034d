// C API: version, error strings.
#include "core/status.h"
#include "mixccl.h"

using namespace mixccl;

extern "C" {

mixcclResult_t mixcclGetVersion(int* version) {
  if (version == nullptr) return fail(mixcclInvalidArgument, "mixcclGetVersion: version is NULL");
  *version = MIXCCL_VERSION_CODE;
  return mixcclSuccess;
}

const char* mixcclGetErrorString(mixcclResult_t result) { return resultString(result); }

const char* mixcclGetLastError(mixcclComm_t comm) { return lastErrorMessage(); }

}  // extern "C"

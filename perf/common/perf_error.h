#pragma once
// A failed library call inside a rank: thrown by checkResult(), caught once at the top of the rank, which prints it,
// aborts the communicator and exits non-zero.
#include <stdexcept>
#include <string>

#include "mixccl.h"

namespace mixccl::perf {

class PerfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws PerfError("<what>: <result string>: <last error message>") unless res is mixcclSuccess.
inline void checkResult(mixcclResult_t res, const std::string& what, mixcclComm_t comm = nullptr) {
  if (res == mixcclSuccess) return;
  std::string msg = what + ": " + mixcclGetErrorString(res);
  const char* last = mixcclGetLastError(comm);
  if (last != nullptr && last[0] != '\0') msg += ": " + std::string(last);
  throw PerfError(msg);
}

}  // namespace mixccl::perf

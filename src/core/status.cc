#include "core/status.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/log.h"

namespace mixccl {
namespace {
// One fixed buffer per thread, so that a pointer from lastErrorMessage() stays valid and shows the newest message
// (as NCCL's ncclGetLastError does): a caller may well fetch it before the failing call in the same expression.
constexpr size_t kLastErrorBytes = 4096;
thread_local char tLastError[kLastErrorBytes];

void store(const std::string& message) {
  const size_t n = std::min(message.size(), kLastErrorBytes - 1);
  std::memcpy(tLastError, message.data(), n);
  tLastError[n] = '\0';
}
}  // namespace

Result fail(Result code, std::string message) {
  MIXCCL_LOG(kWarn, "%s: %s", resultString(code), message.c_str());
  store(message);
  return code;
}

Result failf(Result code, const char* fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return fail(code, buf);
}

const char* lastErrorMessage() { return tLastError; }

void setLastErrorMessage(std::string message) { store(message); }

void clearLastError() { tLastError[0] = '\0'; }

const char* resultString(Result code) {
  switch (code) {
    case mixcclSuccess: return "no error";
    case mixcclUnhandledCudaError: return "unhandled device runtime error";
    case mixcclSystemError: return "unhandled system error";
    case mixcclInternalError: return "internal error";
    case mixcclInvalidArgument: return "invalid argument";
    case mixcclInvalidUsage: return "invalid usage";
    case mixcclRemoteError: return "remote process exited or there was a network error";
    case mixcclInProgress: return "operation in progress";
    default: return "unknown result code";
  }
}

std::string errnoString(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (which may or may not be buf).
  const char* msg = strerror_r(err, buf, sizeof(buf));
  return std::string(msg) + " (errno " + std::to_string(err) + ")";
}

}  // namespace mixccl

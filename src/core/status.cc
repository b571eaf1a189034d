#include "core/status.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/log.h"

namespace mixccl {
namespace {
thread_local std::string tLastError;
}  // namespace

Result fail(Result code, std::string message) {
  MIXCCL_LOG(kWarn, "%s: %s", resultString(code), message.c_str());
  tLastError = std::move(message);
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

const char* lastErrorMessage() { return tLastError.c_str(); }

void setLastErrorMessage(std::string message) { tLastError = std::move(message); }

void clearLastError() { tLastError.clear(); }

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

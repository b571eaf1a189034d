#pragma once
// One status type for the whole library: mixcclResult_t.
//
// Contract: the code that DETECTS an error calls fail() once, with context (rank, peer, collective, step,
// errno or the library's message). fail() logs the message at WARN and stores it as this thread's last error
// (mixcclGetLastError), then returns the code, which every caller propagates unchanged with MIXCCL_TRY.
// Outputs are written only on success. Invariant violations use mixcclInternalError.
#include <string>

#include "mixccl.h"

namespace mixccl {

using Result = mixcclResult_t;

// Logs `message` once and records it as this thread's last error; returns `code`.
Result fail(Result code, std::string message);

// printf-style convenience around fail().
Result failf(Result code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// This thread's last error message ("" if none; at most 4095 bytes). The pointer is the same for the thread's
// whole life and always shows the newest message.
const char* lastErrorMessage();

// Records `message` as this thread's last error without logging it (to carry an error that was already logged
// on another thread over to the thread that reports it).
void setLastErrorMessage(std::string message);

// Clears this thread's last error (at the start of a public API call).
void clearLastError();

// The short name of a result code, e.g. "invalid argument".
const char* resultString(Result code);

// "strerror(errno)" as a std::string, thread-safe.
std::string errnoString(int err);

}  // namespace mixccl

// Propagates a non-success result unchanged (the origin already logged it).
#define MIXCCL_TRY(expr)                            \
  do {                                              \
    ::mixccl::Result mixccl_try_res_ = (expr);      \
    if (mixccl_try_res_ != mixcclSuccess) return mixccl_try_res_; \
  } while (0)

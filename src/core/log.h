#pragma once
// Logging to stderr, filtered by MIXCCL_DEBUG=NONE|WARN|INFO|TRACE (default WARN).
// Every line carries a prefix "host:pid:rank" so interleaved output of several ranks stays readable.
// Thread-safe; a line is written with one write(2) so lines of different processes do not interleave.
#include <cstdint>

namespace mixccl {

enum LogLevel : int { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };

// The level in force (read once from MIXCCL_DEBUG).
LogLevel logLevel();

// Sets the rank shown in this process's prefix (-1: none). The last communicator initialised wins.
void setLogRank(int rank);

void logMessage(LogLevel level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace mixccl

#define MIXCCL_LOG(level, ...)                                                                   \
  do {                                                                                           \
    if (::mixccl::logLevel() >= ::mixccl::level)                                                 \
      ::mixccl::logMessage(::mixccl::level, __FILE__, __LINE__, __VA_ARGS__);                    \
  } while (0)

#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace mixccl {
namespace {

std::atomic<int> gRank{-1};

LogLevel parseLevel(const char* s) {
  if (s == nullptr || *s == '\0') return kWarn;
  if (strcasecmp(s, "NONE") == 0) return kNone;
  if (strcasecmp(s, "WARN") == 0) return kWarn;
  if (strcasecmp(s, "INFO") == 0) return kInfo;
  if (strcasecmp(s, "TRACE") == 0) return kTrace;
  fprintf(stderr, "mixccl: MIXCCL_DEBUG=%s is not one of NONE, WARN, INFO, TRACE; using WARN\n", s);
  return kWarn;
}

}  // namespace

LogLevel logLevel() {
  static const LogLevel level = parseLevel(getenv("MIXCCL_DEBUG"));
  return level;
}

void setLogRank(int rank) { gRank.store(rank, std::memory_order_relaxed); }

void logMessage(LogLevel level, const char* file, int line, const char* fmt, ...) {
  static const char* kNames[] = {"NONE", "WARN", "INFO", "TRACE"};
  char host[64] = "?";
  gethostname(host, sizeof(host) - 1);
  char* dot = strchr(host, '.');
  if (dot != nullptr) *dot = '\0';
  char buf[4096];
  int rank = gRank.load(std::memory_order_relaxed);
  int n = rank >= 0 ? snprintf(buf, sizeof(buf), "%s:%d:%d mixccl %s ", host, getpid(), rank, kNames[level])
                    : snprintf(buf, sizeof(buf), "%s:%d mixccl %s ", host, getpid(), kNames[level]);
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof(buf)) - 64) n = sizeof(buf) - 64;
  if (level >= kTrace) {
    const char* base = strrchr(file, '/');
    n += snprintf(buf + n, sizeof(buf) - n, " [%s:%d]", base ? base + 1 : file, line);
  }
  buf[n++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, buf, n);
  (void)ignored;
}

}  // namespace mixccl

#include "support/stderr_capture.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace mixccl::testing {

std::string captureStderr(const std::function<void()>& body) {
  char path[] = "/tmp/mixccl-stderr-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "(mkstemp failed)";
  unlink(path);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fd, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string text;
  char buf[4096];
  ssize_t got = 0;
  lseek(fd, 0, SEEK_SET);
  while ((got = read(fd, buf, sizeof(buf))) > 0) text.append(buf, size_t(got));
  close(fd);
  return text;
}

}  // namespace mixccl::testing

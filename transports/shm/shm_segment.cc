#include "transports/shm/shm_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/log.h"

namespace mixccl::detail {
namespace {

constexpr const char* kShmDir = "/dev/shm";
constexpr const char* kNamePrefix = "mixccl-";

uint64_t randomBits() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = uint64_t(ts.tv_nsec) * 0x9e3779b97f4a7c15ull ^ uint64_t(getpid());
  }
  return r;
}

// The pid in "mixccl-<pid>-<hex>", or -1 if `file` is not named like a segment of ours.
int pidOfSegmentFile(const char* file) {
  size_t prefixLen = strlen(kNamePrefix);
  if (strncmp(file, kNamePrefix, prefixLen) != 0) return -1;
  char* end = nullptr;
  errno = 0;
  long pid = strtol(file + prefixLen, &end, 10);
  if (errno != 0 || end == file + prefixLen || *end != '-' || pid <= 0 || pid > INT32_MAX) return -1;
  return int(pid);
}

Result mapFd(int fd, size_t bytes, const std::string& name, void** out) {
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    return failf(mixcclSystemError, "shm: mmap of %s (%zu bytes) failed: %s", name.c_str(), bytes,
                 errnoString(errno).c_str());
  }
  *out = base;
  return mixcclSuccess;
}

}  // namespace

std::string shmSegmentPrefix(int pid) { return std::string(kNamePrefix) + std::to_string(pid) + "-"; }

long long shmFreeBytes() {
  struct statvfs st;
  if (statvfs(kShmDir, &st) != 0) return -1;
  return (long long)st.f_bavail * (long long)st.f_frsize;
}

int removeStaleShmSegments() {
  DIR* dir = opendir(kShmDir);
  if (dir == nullptr) return 0;
  int removed = 0;
  while (dirent* entry = readdir(dir)) {
    int pid = pidOfSegmentFile(entry->d_name);
    if (pid < 0 || pid == getpid()) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge (EPERM: alive)
    std::string name = std::string("/") + entry->d_name;
    if (shm_unlink(name.c_str()) == 0) {
      MIXCCL_LOG(kInfo, "shm: removed stale segment %s of dead pid %d", name.c_str(), pid);
      ++removed;
    }
  }
  closedir(dir);
  return removed;
}

Result ShmSegment::create(size_t bytes, std::unique_ptr<ShmSegment>* out, bool reserve) {
  removeStaleShmSegments();
  std::string name;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    char buf[64];
    snprintf(buf, sizeof(buf), "/%s%d-%016" PRIx64, kNamePrefix, int(getpid()), randomBits());
    name = buf;
    fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    return failf(mixcclSystemError, "shm: shm_open(%s, O_CREAT|O_EXCL) failed: %s", name.c_str(),
                 errnoString(errno).c_str());
  }
  if (ftruncate(fd, off_t(bytes)) != 0) {
    int err = errno;
    close(fd);
    shm_unlink(name.c_str());
    return failf(mixcclSystemError, "shm: ftruncate of %s to %zu bytes failed: %s", name.c_str(), bytes,
                 errnoString(err).c_str());
  }
  if (const int err = reserve ? posix_fallocate(fd, 0, off_t(bytes)) : 0; err != 0) {
    close(fd);
    shm_unlink(name.c_str());
    return failf(mixcclSystemError, "shm: could not reserve %zu bytes of /dev/shm for %s: %s%s", bytes, name.c_str(),
                 errnoString(err).c_str(),
                 err == ENOSPC ? " (enlarge /dev/shm, e.g. docker --shm-size, or use fewer or smaller slots)" : "");
  }
  void* base = nullptr;
  Result res = mapFd(fd, bytes, name, &base);
  close(fd);
  if (res != mixcclSuccess) {
    shm_unlink(name.c_str());
    return res;
  }
  out->reset(new ShmSegment(name, base, bytes, /*owner=*/true));
  return mixcclSuccess;
}

Result ShmSegment::open(const std::string& name, std::unique_ptr<ShmSegment>* out) {
  int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    return failf(mixcclSystemError, "shm: shm_open(%s) of a peer's segment failed: %s", name.c_str(),
                 errnoString(errno).c_str());
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return failf(mixcclSystemError, "shm: fstat of %s failed: %s", name.c_str(), errnoString(err).c_str());
  }
  void* base = nullptr;
  Result res = mapFd(fd, size_t(st.st_size), name, &base);
  close(fd);
  MIXCCL_TRY(res);
  out->reset(new ShmSegment(name, base, size_t(st.st_size), /*owner=*/false));
  return mixcclSuccess;
}

ShmSegment::~ShmSegment() {
  munmap(base_, bytes_);
  if (linked_) shm_unlink(name_.c_str());
}

Result ShmSegment::unlink() {
  if (!linked_) return mixcclSuccess;
  linked_ = false;
  if (shm_unlink(name_.c_str()) != 0 && errno != ENOENT) {
    return failf(mixcclSystemError, "shm: shm_unlink(%s) failed: %s", name_.c_str(), errnoString(errno).c_str());
  }
  return mixcclSuccess;
}

}  // namespace mixccl::detail

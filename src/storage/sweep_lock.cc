#include "storage/sweep_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace berth::storage {

Result<std::unique_ptr<SweepLock>> SweepLock::take(const std::string& lock_path, int op) {
  // Its own open file description: flock conflicts between two of them even
  // within one process (tests put an import and a collector in one).
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return tl::unexpected(errnoError(errno, "open", lock_path));
  while (::flock(fd, op) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::unique_ptr<SweepLock>();
    return tl::unexpected(errnoError(err, "flock", lock_path));
  }
  return std::unique_ptr<SweepLock>(new SweepLock(fd));
}

Result<std::unique_ptr<SweepLock>> SweepLock::holdShared(const std::string& lock_path) {
  return take(lock_path, LOCK_SH);
}

Result<std::unique_ptr<SweepLock>> SweepLock::tryExclusive(const std::string& lock_path) {
  return take(lock_path, LOCK_EX | LOCK_NB);
}

SweepLock::~SweepLock() { ::close(fd_); }

}  // namespace berth::storage

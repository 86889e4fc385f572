#include "storage/root_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace berth::storage {

Result<std::unique_ptr<RootLock>> RootLock::acquire(const std::string& lock_path, Mode mode) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return tl::unexpected(errnoError(errno, "open", lock_path));
  int op = (mode == Mode::Shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  while (::flock(fd, op) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return fail(ErrorCode::Unavailable,
                  mode == Mode::Shared ? "berth gc is running on this storage root"
                                       : "a berth server is using this storage root (or berth import-registry2 is "
                                         "importing into it)");
    return tl::unexpected(errnoError(err, "flock", lock_path));
  }
  return std::unique_ptr<RootLock>(new RootLock(fd));
}

RootLock::~RootLock() { ::close(fd_); }

}  // namespace berth::storage

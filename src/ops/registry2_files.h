// Reading an untrusted directory tree (a registry:2 storage someone handed
// us) without leaving it: every path is opened one component at a time below
// a base directory, never following a symbolic link (O_NOFOLLOW), and a file
// is used only through the descriptor that was checked (no second lookup of
// its path: what is checked is what is read). Only regular files are opened
// at all: a FIFO would block a read forever, a device has side effects on
// open. The base itself is the operator's choice and is followed.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "berth/core/error.h"

namespace berth::ops {

// An open descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// A regular file opened read-only (O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC) and its fstat.
struct SourceFile {
  Fd fd;
  struct stat st {};
};

// The errors below carry NotFound when the path (or a directory on it) does
// not exist, Unknown otherwise; the message says what is wrong with the
// entry ("a symbolic link (not followed)", "not a regular file (a FIFO)"),
// without the base.
Result<SourceFile> openFileBeneath(const std::string& base, const std::string& rel);
// Reads at most max_bytes + 1 bytes from the start of f (more is the caller's "too long").
Result<std::string> readCapped(const SourceFile& f, std::size_t max_bytes);

struct DirEntry {
  std::string name;
  bool symlink = false;  // a symbolic link (to anything): reported, never followed
};
// The subdirectories (and symbolic links) in base/rel, sorted by name; other
// entries are left out. rel "" is base itself.
Result<std::vector<DirEntry>> listBeneath(const std::string& base, const std::string& rel);

}  // namespace berth::ops

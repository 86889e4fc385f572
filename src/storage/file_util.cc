#include "storage/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace berth::storage {

Status makeDirs(const std::string& path) {
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return tl::unexpected(errnoError(errno, "mkdir", cur));
  }
  return {};
}

Status fsyncFd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return tl::unexpected(errnoError(errno, "fsync", path));
  return {};
}

Status fsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(errnoError(errno, "open", path));
  auto st = fsyncFd(fd, path);
  ::close(fd);
  return st;
}

std::string parentDir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status durableRename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return tl::unexpected(errnoError(errno, "rename", from + " -> " + to));
  return fsyncPath(parentDir(to));
}

Status writeNewFile(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(errnoError(errno, "create", path));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return tl::unexpected(errnoError(err, "write", path));
    }
    done += static_cast<std::size_t>(n);
  }
  auto st = fsyncFd(fd, path);
  ::close(fd);
  if (!st) ::unlink(path.c_str());
  return st;
}

std::size_t removeFilesIn(const std::string& dir) {
  std::size_t removed = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

std::string randomHex16() {
  unsigned char buf[16];
  // These name secrets (token keys, access tokens): never fall back to whatever the buffer held.
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("the OpenSSL random generator failed");
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[buf[i] >> 4];
    out[2 * i + 1] = kHex[buf[i] & 0xf];
  }
  return out;
}

}  // namespace berth::storage

#include "server/storage_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "storage/paths.h"

namespace berth::server {
namespace {
namespace fs = std::filesystem;

std::string ownerOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "'" + path + "'";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  return "'" + path + "' (owner uid " + std::to_string(st.st_uid) + ", gid " + std::to_string(st.st_gid) +
         ", mode " + mode + ")";
}

// The deepest part of `path` that exists: where creating the rest failed.
std::string existingAncestor(const std::string& path) {
  fs::path p = fs::absolute(path).lexically_normal();
  std::error_code ec;
  while (p.has_parent_path() && p != p.root_path() && !fs::exists(p, ec)) p = p.parent_path();
  return p.string();
}

[[noreturn]] void refuse(const std::string& what, int err, const std::string& culprit) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    std::string uid = std::to_string(::geteuid()), gid = std::to_string(::getegid());
    msg += ". Berth runs as uid " + uid + ", gid " + gid + "; " + ownerOf(culprit) +
           " is not writable by it. Give the directory to that user (for a container's bind mount: chown -R " + uid +
           ":" + gid + " <host directory>), or run Berth as the directory's owner (docker run --user UID:GID)";
  } else if (err == EROFS) {
    msg += ". The storage root must be on a writable filesystem (a volume, with docker run --read-only)";
  }
  throw std::runtime_error(msg);
}

}  // namespace

void checkStorageRoot(const std::string& root) {
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec))
    throw std::runtime_error("storage root '" + root + "' exists and is not a directory");
  fs::create_directories(root, ec);
  if (ec) refuse("storage root '" + root + "' cannot be created", ec.value(), existingAncestor(root));
  // A file made and removed: what the first write of every start needs.
  std::string probe = root + "/.berth-write-check-XXXXXX";
  int fd = ::mkostemp(probe.data(), O_CLOEXEC);
  if (fd < 0) refuse("storage root '" + root + "' is not writable", errno, root);
  ::close(fd);
  ::unlink(probe.c_str());
  // What an earlier run left, perhaps as another user (root): not recursive,
  // the top of each tree is where a wrong owner shows.
  storage::Paths paths(root);
  for (const std::string& p : {paths.blobsDir(), paths.uploadsDir(), paths.tmpDir(), paths.metadataDb(),
                               paths.metadataDb() + "-wal", paths.metadataDb() + "-shm"}) {
    if (::access(p.c_str(), F_OK) != 0) continue;
    if (::faccessat(AT_FDCWD, p.c_str(), W_OK, AT_EACCESS) != 0) refuse("'" + p + "' is not writable", errno, p);
  }
}

}  // namespace berth::server

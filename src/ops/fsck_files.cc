#include "ops/fsck_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "berth/core/sha256.h"

namespace berth::ops::fsck_detail {
namespace {

constexpr std::size_t kHashBuffer = 1 << 20;

struct Entry {
  std::string name;
  struct stat st {};
};

// The entries of a directory (lstat'ed: a symlink is reported, not followed),
// without . and ..; entries that vanish while listed are left out.
Result<std::vector<Entry>> list(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return tl::unexpected(errnoError(errno, "opendir", dir));
  std::vector<Entry> out;
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    Entry entry{name};
    if (::fstatat(::dirfd(d.get()), name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) == 0) out.push_back(std::move(entry));
    errno = 0;
  }
  if (errno != 0) return tl::unexpected(errnoError(errno, "readdir", dir));
  return out;
}

int openForReading(const std::string& path) {
  // O_NOATIME spares the disk an inode write per file read; only the file's
  // owner may ask for it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

FsckProblem warning(const char* kind, const std::string& path, std::string message) {
  FsckProblem p;
  p.severity = FsckSeverity::Warning;
  p.kind = kind;
  p.path = path;
  p.message = std::move(message);
  return p;
}

std::string age(int64_t seconds) {
  if (seconds >= 2 * 86400) return std::to_string(seconds / 86400) + " days";
  return std::to_string(seconds / 3600) + " hours";
}

void scanShard(const storage::Paths& paths, const std::string& shard, const FsckOptions& options, BlobStoreScan& out) {
  const std::string rel_dir = "blobs/sha256/" + shard;
  auto entries = list(paths.blobsDir() + "/" + shard);
  if (!entries) {
    out.warnings.push_back(warning(fsck_kind::kStrayFile, rel_dir, "cannot be listed: " + entries.error().message));
    return;
  }
  for (const auto& e : *entries) {
    const std::string rel = rel_dir + "/" + e.name;
    if (!S_ISREG(e.st.st_mode)) {
      out.warnings.push_back(warning(fsck_kind::kStrayFile, rel, "not a regular file in the blob store"));
      continue;
    }
    if (!isHexDigest(e.name)) {
      out.warnings.push_back(warning(fsck_kind::kStrayFile, rel, "not a digest name (a stray file in the blob store)"));
      continue;
    }
    if (e.name.compare(0, 2, shard) != 0) {
      out.warnings.push_back(
          warning(fsck_kind::kStrayFile, rel, "a digest name in the wrong directory: never served from here"));
      continue;
    }
    BlobFile f;
    f.size = static_cast<uint64_t>(e.st.st_size);
    if (!options.quick) {
      auto hashed = hashFile(paths.blobShardDir(e.name) + "/" + e.name);
      if (!hashed) {
        f.state = BlobFile::State::Unreadable;
        f.note = hashed.error().message;
      } else if (!*hashed) {
        continue;  // removed meanwhile (a garbage collection): nothing to check
      } else {
        out.bytes_hashed += (*hashed)->size;
        f.size = (*hashed)->size;
        f.state = (*hashed)->hex == e.name ? BlobFile::State::Ok : BlobFile::State::Mismatch;
        f.note = "sha256:" + (*hashed)->hex;
      }
    }
    out.blobs.emplace(e.name, std::move(f));
  }
}

// tmp/ and uploads/: files nobody will finish or remove, once they are old.
void scanTemporary(const std::string& dir, const std::string& rel_dir, const std::set<std::string>* upload_ids,
                   const FsckOptions& options, BlobStoreScan& out) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT) return;  // made at the daemon's next start
  auto entries = list(dir);
  if (!entries) {
    out.warnings.push_back(warning(fsck_kind::kStrayFile, rel_dir, "cannot be listed: " + entries.error().message));
    return;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& e : *entries) {
    const std::string rel = rel_dir + "/" + e.name;
    if (upload_ids && upload_ids->count(e.name)) continue;  // an open session's data
    int64_t idle = now - static_cast<int64_t>(e.st.st_mtim.tv_sec);
    if (idle < options.stale_seconds) continue;  // perhaps being written
    std::string what = upload_ids ? "upload data without an upload session" : "a temporary file";
    out.warnings.push_back(warning(fsck_kind::kStaleTemp, rel, what + ", unchanged for " + age(idle)));
  }
}

}  // namespace

bool isHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::optional<HashedFile>> hashFile(const std::string& path) {
  int fd = openForReading(path);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<HashedFile>();
    return tl::unexpected(errnoError(errno, "open", path));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // One buffer per thread, reused from file to file.
  thread_local std::unique_ptr<char[]> buffer(new char[kHashBuffer]);
  Sha256 hash;
  uint64_t size = 0;
  while (true) {
    ssize_t n = ::read(fd, buffer.get(), kHashBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return tl::unexpected(errnoError(err, "read", path));
    }
    if (n == 0) break;
    hash.update(buffer.get(), static_cast<std::size_t>(n));
    size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return std::optional<HashedFile>(HashedFile{hash.finish().hex(), size});
}

Result<std::optional<std::string>> readSmallFile(const std::string& path, uint64_t max) {
  int fd = openForReading(path);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return tl::unexpected(errnoError(errno, "open", path));
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return tl::unexpected(errnoError(err, "read", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max) {
      ::close(fd);
      return fail(ErrorCode::Unknown, "larger than " + std::to_string(max) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

Result<std::optional<uint64_t>> fileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<uint64_t>();
    return tl::unexpected(errnoError(errno, "stat", path));
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
}

Result<BlobStoreScan> scanBlobStore(const storage::Paths& paths, const std::set<std::string>& upload_ids,
                                    const FsckOptions& options) {
  BlobStoreScan out;
  auto top = list(paths.blobsDir());
  if (!top) return tl::unexpected(Error{ErrorCode::Unavailable, top.error().message, {}, true});
  for (const auto& e : *top) {
    bool shard = S_ISDIR(e.st.st_mode) && e.name.size() == 2 && isHexDigest(e.name + std::string(62, '0'));
    if (shard)
      scanShard(paths, e.name, options, out);
    else
      out.warnings.push_back(warning(fsck_kind::kStrayFile, "blobs/sha256/" + e.name, "not a blob shard directory"));
  }
  if (auto blobs_top = list(paths.root() + "/blobs"); blobs_top) {
    for (const auto& e : *blobs_top)
      if (e.name != "sha256")
        out.warnings.push_back(warning(fsck_kind::kStrayFile, "blobs/" + e.name, "not part of the blob store layout"));
  }
  scanTemporary(paths.tmpDir(), "tmp", nullptr, options, out);
  scanTemporary(paths.uploadsDir(), "uploads", &upload_ids, options, out);
  return out;
}

}  // namespace berth::ops::fsck_detail

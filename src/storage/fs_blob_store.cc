#include "storage/fs_blob_store.h"

#include "observe/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "berth/core/sha256.h"
#include "storage/file_util.h"

namespace berth::storage {

BlobReader::~BlobReader() {
  if (fd_ >= 0) ::close(fd_);
}

FsBlobStore::FsBlobStore(Paths paths, bool clear_tmp) : paths_(std::move(paths)) {
  static const char* kHex = "0123456789abcdef";
  for (const auto& dir : {paths_.blobsDir(), paths_.uploadsDir(), paths_.tmpDir()})
    if (auto st = makeDirs(dir); !st) throw std::runtime_error(st.error().message);
  for (int a = 0; a < 16; ++a)
    for (int b = 0; b < 16; ++b) {
      std::string shard = paths_.blobsDir() + "/" + kHex[a] + kHex[b];
      if (::mkdir(shard.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error(errnoError(errno, "mkdir", shard).message);
    }
  (void)fsyncPath(paths_.blobsDir());
  if (clear_tmp) temp_removed_ = removeFilesIn(paths_.tmpDir());
}

Result<BlobInfo> FsBlobStore::stat(const Digest& digest) const {
  struct stat st {};
  if (::stat(paths_.blob(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(ErrorCode::BlobUnknown, "blob unknown to registry", digest.str());
    return tl::unexpected(errnoError(errno, "stat", paths_.blob(digest)));
  }
  return BlobInfo{static_cast<uint64_t>(st.st_size)};
}

Result<BlobReaderPtr> FsBlobStore::open(const Digest& digest) const {
  std::string path = paths_.blob(digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return fail(ErrorCode::BlobUnknown, "blob unknown to registry", digest.str());
    return tl::unexpected(errnoError(errno, "open", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return tl::unexpected(errnoError(err, "fstat", path));
  }
  return std::make_unique<BlobReader>(fd, static_cast<uint64_t>(st.st_size));
}

Status FsBlobStore::install(const std::string& source_path, const Digest& digest) {
  std::string target = paths_.blob(digest);
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    // Content addressing: the same digest is the same bytes; keep the old file.
    // Its installer may still be fsyncing the directory: make sure the entry
    // is durable before our caller acknowledges the blob.
    ::unlink(source_path.c_str());
    return fsyncPath(parentDir(target));
  }
  if (auto s = fsyncPath(source_path); !s) return s;
  struct stat source {};
  uint64_t size = ::stat(source_path.c_str(), &source) == 0 ? uint64_t(source.st_size) : 0;
  auto done = durableRename(source_path, target);
  if (done) observe::metrics().blobInstalled(size);
  return done;
}

Result<Digest> FsBlobStore::putBytes(const std::string& bytes) {
  Digest digest = Sha256::of(bytes);
  struct stat st {};
  if (::stat(paths_.blob(digest).c_str(), &st) == 0) {
    // As in install(): the entry may not be durable yet if another request just renamed it.
    if (auto s = fsyncPath(paths_.blobShardDir(digest.hex())); !s) return tl::unexpected(s.error());
    return digest;
  }
  std::string tmp = paths_.tmpDir() + "/" + randomHex16();
  if (auto s = writeNewFile(tmp, bytes); !s) return tl::unexpected(s.error());
  if (auto s = durableRename(tmp, paths_.blob(digest)); !s) {
    ::unlink(tmp.c_str());
    return tl::unexpected(s.error());
  }
  observe::metrics().blobInstalled(bytes.size());
  return digest;
}

Result<std::string> FsBlobStore::readBytes(const Digest& digest, uint64_t max_size) const {
  auto reader = open(digest);
  if (!reader) return tl::unexpected(reader.error());
  if ((*reader)->size() > max_size) return fail(ErrorCode::Unknown, "blob too large to read whole", digest.str());
  std::string out((*reader)->size(), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread((*reader)->fd(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return tl::unexpected(errnoError(n < 0 ? errno : EIO, "read", paths_.blob(digest)));
    done += static_cast<std::size_t>(n);
  }
  return out;
}

Status FsBlobStore::remove(const Digest& digest) {
  std::string path = paths_.blob(digest);
  struct stat st {};
  uint64_t size = ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return fail(ErrorCode::BlobUnknown, "blob unknown to registry", digest.str());
    return tl::unexpected(errnoError(errno, "unlink", path));
  }
  observe::metrics().blobRemoved(size);
  return {};
}

}  // namespace berth::storage

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "berth/repo/upload.h"

namespace berth::repo {

UploadSession::UploadSession(std::string uuid, std::string repo, std::string name, std::string path, int fd,
                             uint64_t offset, bool hash_valid)
    : uuid_(std::move(uuid)), repo_(std::move(repo)), name_(std::move(name)), path_(std::move(path)), fd_(fd),
      offset_(offset), written_back_(offset), released_(offset), hash_valid_(hash_valid) {}

UploadSession::~UploadSession() { closeFile(); }

void UploadSession::closeFile() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status UploadSession::append(const char* data, std::size_t size) {
  if (fd_ < 0) return fail(ErrorCode::BlobUploadUnknown, "upload session is closed", uuid_);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(offset_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      (void)::ftruncate(fd_, static_cast<off_t>(offset_));
      return tl::unexpected(errnoError(err, "write upload", path_));
    }
    done += static_cast<std::size_t>(n);
  }
  if (hash_valid_) hasher_.update(data, size);
  offset_ += size;
  startWriteback();
  return {};
}

// Large uploads: start writing each 8 MiB window to disk as soon as it is
// complete, and release windows that are safely on disk from the page cache.
// The commit's fsync then finds little left to do, so the disk works while
// the network delivers (instead of after it), and the page cache recycles a
// few MiB instead of growing by the blob's size.
void UploadSession::startWriteback() {
  constexpr uint64_t kWindow = 8u << 20;
  constexpr uint64_t kKeepBehind = 4 * kWindow;
  while (offset_ - written_back_ >= kWindow) {
    ::sync_file_range(fd_, static_cast<off_t>(written_back_), kWindow, SYNC_FILE_RANGE_WRITE);
    written_back_ += kWindow;
  }
  while (written_back_ - released_ > kKeepBehind) {
    ::sync_file_range(fd_, static_cast<off_t>(released_), kWindow,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    ::posix_fadvise(fd_, static_cast<off_t>(released_), kWindow, POSIX_FADV_DONTNEED);
    released_ += kWindow;
  }
}

Result<Digest> UploadSession::digest() {
  if (!hash_valid_) {
    // After a restart: re-hash what is on disk, once.
    Sha256 h;
    std::vector<char> buf(1 << 20);
    uint64_t pos = 0;
    while (pos < offset_) {
      ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return tl::unexpected(errnoError(n < 0 ? errno : EIO, "read upload", path_));
      h.update(buf.data(), static_cast<std::size_t>(n));
      pos += static_cast<uint64_t>(n);
    }
    hasher_ = std::move(h);
    hash_valid_ = true;
  }
  // finish() resets the context; keep the running state by hashing a copy.
  Sha256 copy = std::move(hasher_);
  Digest d = copy.finish();
  hash_valid_ = false;  // the running state was consumed; re-hash if asked again
  return d;
}

}  // namespace berth::repo

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "berth/repo/upload.h"
#include "repo/recent_pages.h"

namespace berth::repo {
namespace {
tl::unexpected<Error> gone(const std::string& uuid) {
  return fail(ErrorCode::BlobUploadUnknown, "blob upload unknown to registry", uuid);
}
}  // namespace

UploadSession::Lease& UploadSession::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    unlock();
    s_ = other.s_;
    lock_ = std::move(other.lock_);
  }
  return *this;
}

void UploadSession::Lease::unlock() {
  if (!lock_.owns_lock()) return;
  s_->release();
  lock_.unlock();
}

UploadSession::UploadSession(std::string uuid, std::string repo, std::string name, std::string path,
                             uint64_t offset, bool hash_valid, bool resumable, std::shared_ptr<RecentPages> recent)
    : uuid_(std::move(uuid)), repo_(std::move(repo)), name_(std::move(name)), path_(std::move(path)),
      offset_(offset), written_back_(offset), released_(offset), recent_(std::move(recent)), hash_valid_(hash_valid),
      resumable_(resumable) {}

UploadSession::~UploadSession() { closeFile(); }

Result<UploadSession::Lease> UploadSession::acquire(const Pause& pause) {
  constexpr auto kStep = std::chrono::milliseconds(20);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::unique_lock<std::timed_mutex> lock(busy_, std::try_to_lock);
  while (!lock.owns_lock()) {
    if (std::chrono::steady_clock::now() >= until)
      return fail(ErrorCode::BlobUploadInvalid, "another request is writing to this upload", uuid_);
    if (pause)
      pause(kStep);
    else
      std::this_thread::sleep_for(kStep);
    lock.try_lock();
  }
  if (ended_) return gone(uuid_);
  return Lease(this, std::move(lock));
}

std::optional<UploadSession::Lease> UploadSession::tryAcquire() {
  std::unique_lock<std::timed_mutex> lock(busy_, std::try_to_lock);
  if (!lock.owns_lock()) return std::nullopt;
  return Lease(this, std::move(lock));
}

void UploadSession::release() {
  // The request's activity is the session's last activity (see upload.h):
  // a status query or an empty chunk keeps it alive as much as data does.
  if (!ended_) {
    if (fd_ >= 0) ::futimens(fd_, nullptr);
    else ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);
  }
  closeFile();
}

Status UploadSession::openFile() {
  if (ended_) return gone(uuid_);
  if (fd_ >= 0) return {};
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ >= 0) return {};
  if (errno == ENOENT) return gone(uuid_);  // removed under us: the session is gone
  return tl::unexpected(errnoError(errno, "open upload", path_));
}

void UploadSession::closeFile() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void UploadSession::end() {
  ended_ = true;
  closeFile();
}

Status UploadSession::append(const char* data, std::size_t size) {
  if (auto st = write(data, size); !st) return st;
  if (hash_valid_) hasher_.update(data, size);
  given_digest_.reset();
  offset_ += size;
  startWriteback();
  return {};
}

Status UploadSession::appendUnhashed(const char* data, std::size_t size) {
  if (auto st = write(data, size); !st) return st;
  hash_valid_ = false;
  given_digest_.reset();
  offset_ += size;
  startWriteback();
  return {};
}

void UploadSession::setDigest(const Digest& d) { given_digest_ = d; }

Status UploadSession::write(const char* data, std::size_t size) {
  if (auto st = openFile(); !st) return st;
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
  return {};
}

// Large uploads: start writing each 8 MiB window to disk as soon as it is
// complete, and hand windows that are safely on disk to recent_, which keeps
// the newest uploaded data cached up to its budget and drops older windows
// (recent_pages.h says why). The commit's fsync then finds little left to do,
// so the disk works while the network delivers (instead of after it), and
// beyond the budget the page cache recycles instead of growing by each blob's
// size.
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
    if (recent_) recent_->keep(fd_, path_, released_, kWindow);
    else ::posix_fadvise(fd_, static_cast<off_t>(released_), kWindow, POSIX_FADV_DONTNEED);
    released_ += kWindow;
  }
}

Result<Digest> UploadSession::digest() {
  if (ended_) return gone(uuid_);
  if (given_digest_) {
    Digest d = *given_digest_;
    given_digest_.reset();
    return d;
  }
  if (!hash_valid_) {
    // After a restart: re-hash what is on disk, once.
    if (auto st = openFile(); !st) return tl::unexpected(st.error());
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
  // finish() consumes the running state: re-hash from disk if asked again.
  Digest d = hasher_.finish();
  hash_valid_ = false;
  return d;
}

}  // namespace berth::repo

#include "repo/upload_store.h"

#include "observe/metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <vector>

#include "storage/file_util.h"

namespace berth::repo {
namespace {

// How long a client over a cap is told to wait (Retry-After): other pushes
// finish in about that time; abandoned sessions only expire.
constexpr const char* kRetryAfterSeconds = "60";

tl::unexpected<Error> unknown(const std::string& uuid) {
  return fail(ErrorCode::BlobUploadUnknown, "blob upload unknown to registry", uuid);
}

std::string newUuid() {
  std::string hex = storage::randomHex16();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

bool plausibleUuid(const std::string& uuid) {
  if (uuid.empty() || uuid.size() > 64) return false;
  for (char c : uuid)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

// Unix seconds of the data file's mtime; the oldest time when it is gone.
int64_t lastActivity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(st.st_mtim.tv_sec);
}

}  // namespace

UploadStore::UploadStore(storage::Paths paths, storage::MetadataStorePtr meta, storage::BlobStorePtr blobs,
                         UploadLimits limits)
    : paths_(std::move(paths)), meta_(std::move(meta)), blobs_(std::move(blobs)), limits_(limits),
      recent_(std::make_shared<RecentPages>(limits.page_cache_bytes)) {}

Status UploadStore::admit(const std::string& repo, const std::string& user) {
  if (limits_.per_repository == 0 && limits_.per_user == 0) return {};
  auto open = meta_->countUploads(repo, user);
  if (!open) return tl::unexpected(open.error());
  const char* advice = "; finish or cancel some, or wait for idle ones to expire";
  if (limits_.per_repository && open->in_repo >= limits_.per_repository)
    return fail(ErrorCode::TooManyRequests,
                "too many unfinished uploads in repository " + repo + " (limit " +
                    std::to_string(limits_.per_repository) + ")" + advice,
                kRetryAfterSeconds);
  if (limits_.per_user && open->by_owner >= limits_.per_user)
    return fail(ErrorCode::TooManyRequests,
                "too many unfinished uploads for user " + user + " (limit " + std::to_string(limits_.per_user) +
                    ")" + advice,
                kRetryAfterSeconds);
  return {};
}

Result<UploadSessionPtr> UploadStore::start(const std::string& repo, const std::string& name,
                                            const std::string& user, bool resumable) {
  std::string uuid = newUuid();
  std::string path = paths_.upload(uuid);
  // Counting and recording are one step, or concurrent starts could all pass the cap.
  std::unique_lock admit_lock(admit_mu_, std::defer_lock);
  if (resumable) {
    admit_lock.lock();
    if (auto st = admit(repo, user); !st) return tl::unexpected(st.error());
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(errnoError(errno, "create upload", path));
  ::close(fd);  // reopened by each request that writes (upload.h)
  if (resumable) {
    if (auto st = meta_->createUpload({uuid, repo, name, 0, user}); !st) {
      ::unlink(path.c_str());
      return tl::unexpected(st.error());
    }
  }
  auto s = std::make_shared<UploadSession>(uuid, repo, name, path, 0, true, resumable, recent_);
  std::lock_guard lock(mu_);
  live_[uuid] = s;
  observe::metrics().uploadStarted();
  return s;
}

Result<UploadSessionPtr> UploadStore::live(const std::string& uuid, const storage::UploadRecord* known) {
  std::lock_guard lock(mu_);
  if (auto it = live_.find(uuid); it != live_.end()) return it->second;
  // Not live: a session from before a restart? Revived under mu_, so that
  // there is never more than one object for a session.
  std::optional<storage::UploadRecord> rec;
  if (!known) {
    auto r = meta_->upload(uuid);
    if (!r) return tl::unexpected(r.error());
    if (!*r) return unknown(uuid);
    rec = std::move(**r);
    known = &*rec;
  }
  std::string path = paths_.upload(uuid);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return unknown(uuid);
  auto s = std::make_shared<UploadSession>(uuid, known->repo, known->name, path, static_cast<uint64_t>(st.st_size),
                                           false, true, recent_);
  if (live_.emplace(uuid, s).second) observe::metrics().uploadStarted();
  return s;
}

Result<UploadSessionPtr> UploadStore::find(const std::string& repo, const std::string& name, const std::string& uuid) {
  if (!plausibleUuid(uuid)) return unknown(uuid);
  auto s = live(uuid, nullptr);
  if (!s) return s;
  if ((*s)->repo() != repo || (*s)->name() != name) return unknown(uuid);
  return s;
}

Status UploadStore::finish(const UploadSessionPtr& s, bool remove_file, bool remove_row) {
  s->end();
  // The row goes first: if it cannot (a full disk), the file stays and the
  // session can be revived and ended again; a file left without its row is
  // removed at the next start (removeOrphanFiles).
  Status st;
  if (remove_row && s->resumable()) st = meta_->deleteUpload(s->uuid());
  if (remove_file && st) {
    ::unlink(s->path().c_str());
    recent_->forget(s->path());
  }
  std::lock_guard lock(mu_);
  if (live_.erase(s->uuid()) > 0) observe::metrics().uploadEnded();
  return st;
}

Result<uint64_t> UploadStore::commit(const UploadSessionPtr& s, const Digest& expected,
                                     const std::function<void()>& verified) {
  auto actual = s->digest();
  if (!actual) return tl::unexpected(actual.error());
  if (*actual != expected) {
    (void)finish(s, true);
    return fail(ErrorCode::DigestInvalid, "provided digest did not match uploaded content",
                "expected " + expected.str() + ", content is " + actual->str());
  }
  if (verified) verified();
  uint64_t size = s->offset();
  s->end();  // closes the file before it moves
  // The data reaches the disk before the fence is taken (install's own fsync
  // then finds nothing to write): a large layer's fsync must not hold up the sweep.
  if (auto st = storage::fsyncPath(s->path()); !st) {
    (void)finish(s, true);
    return tl::unexpected(st.error());
  }
  Status linked;
  {
    // From the stat to the committed link, the sweep cannot take this blob
    // (docs/design.md, "Garbage collection").
    auto fence = blobs_->fence().writer();
    // The same content already stored: the upload's file is removed, not moved.
    bool stored_before = blobs_->stat(expected).has_value();
    if (auto st = blobs_->install(s->path(), expected); !st) {
      (void)finish(s, true);
      return tl::unexpected(st.error());
    }
    if (stored_before) recent_->forget(s->path());
    else recent_->moved(s->path(), paths_.blob(expected));
    // The blob is durable now; the link makes it visible in the repository,
    // and ends the session's row in the same transaction (one commit to wait for).
    linked = s->resumable() ? meta_->linkUploadedBlob(s->uuid(), s->repo(), s->name(), expected, size)
                            : meta_->linkBlob(s->repo(), s->name(), expected, size);
  }
  (void)finish(s, false, /*remove_row=*/!linked);
  if (!linked) return tl::unexpected(linked.error());
  return size;
}

Status UploadStore::cancel(const UploadSessionPtr& s) {
  if (s->ended()) return unknown(s->uuid());
  return finish(s, true);
}

std::size_t UploadStore::endWhere(
    const std::function<bool(const storage::UploadRecord&, const std::string& path)>& pick, bool dry_run) {
  auto rows = meta_->uploads();
  if (!rows) return 0;
  std::size_t ended = 0;
  for (const auto& u : *rows) {
    std::string path = paths_.upload(u.uuid);
    if (!pick(u, path)) continue;  // a cheap first look, without reviving it
    if (dry_run) {
      ++ended;
      continue;
    }
    auto s = live(u.uuid, &u);
    if (!s) {
      // No data file: nothing left to resume.
      if (s.error().code == ErrorCode::BlobUploadUnknown && meta_->deleteUpload(u.uuid)) ++ended;
      continue;
    }
    auto lease = (*s)->tryAcquire();
    if (!lease || (*s)->ended()) continue;  // a request is using it: active
    if (!pick(u, path)) continue;           // touched since the first look
    (void)finish(*s, true);
    ++ended;
  }
  return ended;
}

std::size_t UploadStore::purgeIdleSince(int64_t cutoff, bool dry_run) {
  return endWhere([cutoff](const storage::UploadRecord&, const std::string& path) { return lastActivity(path) < cutoff; },
                  dry_run);
}

std::size_t UploadStore::endSessionsOf(const std::string& repo) {
  return endWhere([&repo](const storage::UploadRecord& u, const std::string&) { return u.repo == repo; }, false);
}

std::size_t UploadStore::removeOrphanFiles(int64_t idle_before, bool dry_run) {
  std::size_t removed = 0;
  DIR* d = ::opendir(paths_.uploadsDir().c_str());
  if (!d) return 0;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& uuid : names) {
    std::string path = paths_.upload(uuid);
    struct stat st {};
    // Regular files only (empty directories are GC's); a session that keeps
    // no row (a remote's fetch, a monolithic upload) writes its file as it goes.
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtim.tv_sec >= idle_before) continue;
    auto rec = meta_->upload(uuid);
    if (!rec || *rec) continue;
    if (dry_run || ::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace berth::repo

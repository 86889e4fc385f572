#include "repo/upload_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "storage/file_util.h"

namespace berth::repo {

UploadStore::UploadStore(storage::Paths paths, storage::MetadataStorePtr meta, storage::BlobStorePtr blobs)
    : paths_(std::move(paths)), meta_(std::move(meta)), blobs_(std::move(blobs)) {}

Result<UploadSessionPtr> UploadStore::start(const std::string& repo, const std::string& name, bool resumable) {
  std::string uuid = storage::randomHex16();
  uuid = uuid.substr(0, 8) + "-" + uuid.substr(8, 4) + "-" + uuid.substr(12, 4) + "-" + uuid.substr(16, 4) + "-" +
         uuid.substr(20);
  std::string path = paths_.upload(uuid);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(errnoError(errno, "create upload", path));
  if (auto st = resumable ? meta_->createUpload({uuid, repo, name, 0}) : Status{}; !st) {
    ::close(fd);
    ::unlink(path.c_str());
    return tl::unexpected(st.error());
  }
  auto s = std::make_shared<UploadSession>(uuid, repo, name, path, fd, 0, true);
  std::lock_guard lock(mu_);
  live_[uuid] = s;
  return s;
}

Result<UploadSessionPtr> UploadStore::find(const std::string& repo, const std::string& name, const std::string& uuid) {
  auto unknown = [&] { return fail(ErrorCode::BlobUploadUnknown, "blob upload unknown to registry", uuid); };
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(uuid); it != live_.end()) {
      if (it->second->repo() != repo || it->second->name() != name) return unknown();
      return it->second;
    }
  }
  // Not live: a session from before a restart?
  for (char c : uuid)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return unknown();
  auto rec = meta_->upload(uuid);
  if (!rec) return tl::unexpected(rec.error());
  if (!*rec || (*rec)->repo != repo || (*rec)->name != name) return unknown();
  std::string path = paths_.upload(uuid);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return unknown();
  struct stat st {};
  ::fstat(fd, &st);
  auto s = std::make_shared<UploadSession>(uuid, repo, name, path, fd, static_cast<uint64_t>(st.st_size), false);
  std::lock_guard lock(mu_);
  auto [it, inserted] = live_.emplace(uuid, s);
  return it->second;  // another request may have revived it first
}

void UploadStore::forget(const std::string& uuid) {
  std::lock_guard lock(mu_);
  live_.erase(uuid);
}

Result<uint64_t> UploadStore::commit(const UploadSessionPtr& s, const Digest& expected) {
  auto actual = s->digest();
  if (!actual) return tl::unexpected(actual.error());
  if (*actual != expected) {
    (void)cancel(s);
    return fail(ErrorCode::DigestInvalid, "provided digest did not match uploaded content",
                "expected " + expected.str() + ", content is " + actual->str());
  }
  uint64_t size = s->offset();
  s->closeFile();
  if (auto st = blobs_->install(s->path(), expected); !st) {
    (void)cancel(s);
    return tl::unexpected(st.error());
  }
  forget(s->uuid());
  // The blob is durable now; the link makes it visible in the repository.
  if (auto st = meta_->linkBlob(s->repo(), s->name(), expected, size); !st) return tl::unexpected(st.error());
  (void)meta_->deleteUpload(s->uuid());
  return size;
}

Status UploadStore::cancel(const UploadSessionPtr& s) {
  s->closeFile();
  ::unlink(s->path().c_str());
  forget(s->uuid());
  return meta_->deleteUpload(s->uuid());
}

std::size_t UploadStore::purgeOlderThan(int64_t cutoff) {
  auto old = meta_->uploadsOlderThan(cutoff);
  if (!old) return 0;
  for (const auto& u : *old) {
    forget(u.uuid);
    ::unlink(paths_.upload(u.uuid).c_str());
    (void)meta_->deleteUpload(u.uuid);
  }
  return old->size();
}

}  // namespace berth::repo

namespace berth::repo {

std::size_t UploadStore::removeOrphanFiles() {
  std::size_t removed = 0;
  DIR* d = ::opendir(paths_.uploadsDir().c_str());
  if (!d) return 0;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& uuid : names) {
    auto rec = meta_->upload(uuid);
    if (rec && !*rec && ::unlink(paths_.upload(uuid).c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace berth::repo

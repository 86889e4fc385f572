// Upload sessions of every repository: live ones in memory (with their hash
// state), all of them in the metadata store so that they survive a restart.
// Data files live at Paths::upload(uuid).
//
// Thread safety: all methods may be called concurrently (one mutex for the map).
#pragma once

#include <map>
#include <mutex>

#include "berth/repo/upload.h"
#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"
#include "storage/paths.h"

namespace berth::repo {

class UploadStore {
 public:
  UploadStore(storage::Paths paths, storage::MetadataStorePtr meta, storage::BlobStorePtr blobs);

  // resumable: record the session in the metadata store (survives a restart).
  Result<UploadSessionPtr> start(const std::string& repo, const std::string& name, bool resumable = true);
  // BLOB_UPLOAD_UNKNOWN unless the session exists and belongs to repo/name.
  Result<UploadSessionPtr> find(const std::string& repo, const std::string& name, const std::string& uuid);
  // Verifies, installs into the blob store, links, ends the session.
  Result<uint64_t> commit(const UploadSessionPtr& s, const Digest& expected);
  Status cancel(const UploadSessionPtr& s);
  // Removes sessions created before the cutoff (and their files). Returns how many.
  std::size_t purgeOlderThan(int64_t unix_seconds);
  // Removes data files that belong to no session (a crash between creating
  // the file and recording the session). Startup only. Returns how many.
  std::size_t removeOrphanFiles();

 private:
  void forget(const std::string& uuid);

  storage::Paths paths_;
  storage::MetadataStorePtr meta_;
  storage::BlobStorePtr blobs_;
  std::mutex mu_;
  std::map<std::string, UploadSessionPtr> live_;
};

}  // namespace berth::repo

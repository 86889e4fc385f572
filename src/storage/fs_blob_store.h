// BlobStore on a local filesystem; layout in storage/paths.h.
#pragma once

#include "berth/storage/blob_store.h"
#include "storage/paths.h"

namespace berth::storage {

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directory tree (all 256 shard directories up front, so that
  // installing never has to make and fsync a new directory) and empties tmp/,
  // unless clear_tmp is false: a second process working beside a running
  // daemon (berth import-registry2) must not delete the daemon's temp files,
  // and `berth gc --dry-run` changes nothing.
  // Throws std::runtime_error when the root cannot be prepared (startup only).
  explicit FsBlobStore(Paths paths, bool clear_tmp = true);

  Result<BlobInfo> stat(const Digest& digest) const override;
  Result<BlobReaderPtr> open(const Digest& digest) const override;
  Status install(const std::string& source_path, const Digest& digest) override;
  Result<Digest> putBytes(const std::string& bytes) override;
  Result<std::string> readBytes(const Digest& digest, uint64_t max_size) const override;
  Status remove(const Digest& digest) override;

  std::size_t tempFilesRemovedAtStart() const { return temp_removed_; }

 private:
  Paths paths_;
  std::size_t temp_removed_ = 0;
};

}  // namespace berth::storage

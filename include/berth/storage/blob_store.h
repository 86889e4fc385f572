// The global content-addressed blob store. It knows nothing of repositories:
// which repository may serve a blob is the metadata store's business.
//
// Thread safety: all methods may be called concurrently. Installing the same
// digest twice at once is safe (rename is atomic; the loser's file is dropped).
// Durability: install() fsyncs the file, renames it into place and fsyncs the
// directory, so a crash leaves either nothing or the whole verified blob.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "berth/core/digest.h"
#include "berth/core/error.h"
#include "berth/storage/reference_fence.h"

namespace berth::storage {

struct BlobInfo {
  uint64_t size = 0;
};

// An open, read-only blob. Owns the file descriptor.
class BlobReader {
 public:
  // For a blob still arriving (a remote repository's fetch in flight):
  // ready(pos) waits until the file holds more than `pos` bytes and returns
  // how many it holds, or the error that ended the fetch.
  using ReadyFn = std::function<Result<uint64_t>(uint64_t pos)>;

  BlobReader(int fd, uint64_t size, ReadyFn ready = {}) : fd_(fd), size_(size), ready_(std::move(ready)) {}
  ~BlobReader();
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  // Empty when the whole blob is on disk.
  const ReadyFn& ready() const { return ready_; }

 private:
  int fd_;
  uint64_t size_;
  ReadyFn ready_;
};
using BlobReaderPtr = std::unique_ptr<BlobReader>;

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // BLOB_UNKNOWN when absent.
  virtual Result<BlobInfo> stat(const Digest& digest) const = 0;
  // BLOB_UNKNOWN when absent.
  virtual Result<BlobReaderPtr> open(const Digest& digest) const = 0;
  // Moves a fully written file (on the same filesystem, e.g. an upload's data
  // file) into place under `digest` durably. The caller has verified the
  // digest. The source path is consumed (renamed or removed).
  virtual Status install(const std::string& source_path, const Digest& digest) = 0;
  // Writes a small in-memory blob (a manifest) durably; hashes it itself.
  virtual Result<Digest> putBytes(const std::string& bytes) = 0;
  // Reads a small blob whole (manifests only; bounded by the caller).
  virtual Result<std::string> readBytes(const Digest& digest, uint64_t max_size) const = 0;
  // GC only. BLOB_UNKNOWN when absent.
  virtual Status remove(const Digest& digest) = 0;

  // Whoever finds or installs a blob and then references it holds this
  // shared until the reference is committed; the sweep holds it exclusively
  // (reference_fence.h, docs/design.md "Garbage collection").
  ReferenceFence& fence() const { return fence_; }

 private:
  mutable ReferenceFence fence_;
};
using BlobStorePtr = std::shared_ptr<BlobStore>;

}  // namespace berth::storage

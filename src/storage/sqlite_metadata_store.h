// MetadataStore on SQLite (WAL). Writes and the reads that need the writer's
// state (tag lists with their cache, upload counts) go through one
// connection behind one mutex; the point reads on a request's path (tag,
// manifest, blob link, upload) and GC's scans go through a pool of read
// connections (read_connections.h), so they neither queue behind each other
// nor behind a commit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "berth/storage/metadata_store.h"
#include "storage/read_connections.h"
#include "storage/sqlite_db.h"
#include "storage/tag_list_cache.h"

namespace berth::storage {

class SqliteMetadataStore final : public MetadataStore {
 public:
  // Opens or creates the database and its schema (upgrading an older one).
  // Throws on failure (startup). sync: see SyncMode.
  explicit SqliteMetadataStore(const std::string& path, SyncMode sync = SyncMode::Full);

  Status linkBlob(const std::string& repo, const std::string& name, const Digest& d, uint64_t size) override;
  Status linkUploadedBlob(const std::string& uuid, const std::string& repo, const std::string& name, const Digest& d,
                          uint64_t size) override;
  Result<std::optional<uint64_t>> linkedBlobSize(const std::string& repo, const std::string& name,
                                                 const Digest& d) override;
  Result<bool> unlinkBlob(const std::string& repo, const std::string& name, const Digest& d) override;

  Result<PutManifestOutcome> putManifest(const ManifestWrite& write) override;
  Result<std::optional<ManifestRecord>> manifest(const std::string& repo, const std::string& name,
                                                 const Digest& d) override;
  Result<bool> deleteManifest(const std::string& repo, const std::string& name, const Digest& d) override;
  Result<std::vector<ManifestRecord>> referrers(const std::string& repo, const std::string& name,
                                                const Digest& subject) override;
  Status markManifestUsed(const ManifestRecord& m) override;

  Result<std::optional<Digest>> resolveTag(const std::string& repo, const std::string& name,
                                           const std::string& tag) override;
  Result<std::optional<TagRecord>> tagRecord(const std::string& repo, const std::string& name,
                                             const std::string& tag) override;
  Result<bool> touchTag(const std::string& repo, const std::string& name, const std::string& tag) override;
  Result<bool> deleteTag(const std::string& repo, const std::string& name, const std::string& tag) override;
  Result<Page> listTags(const std::string& repo, const std::string& name, const std::string& last,
                        std::size_t n) override;

  Result<PromoteOutcome> promote(const PromoteSpec& spec) override;
  Result<bool> deleteTagAndPrune(const std::string& repo, const std::string& name, const std::string& tag) override;
  Result<bool> deleteImage(const std::string& repo, const std::string& name) override;
  // Removes every image of the repository (its tags, manifests, references
  // and blob links) in one transaction: a repository deleted through the
  // API. Upload sessions are the upload store's to end. Returns how many
  // images there were.
  Result<std::size_t> deleteRepositoryContent(const std::string& repo);
  Result<CacheEviction> evictUnusedCache(const std::string& repo, int64_t cutoff, bool dry_run) override;

  Result<bool> imageExists(const std::string& repo, const std::string& name) override;
  Result<Page> listImages(const std::string& repo, const std::string& last, std::size_t n) override;

  Status createUpload(const UploadRecord& u) override;
  Result<std::optional<UploadRecord>> upload(const std::string& uuid) override;
  Status deleteUpload(const std::string& uuid) override;
  Result<std::vector<UploadRecord>> uploads() override;
  Result<UploadCounts> countUploads(const std::string& repo, const std::string& owner) override;

  Result<GcScan> scanGcCandidates(int64_t cutoff, const std::string& after, std::size_t limit) override;
  Result<std::vector<Digest>> forgetUnreferencedBlobs(const std::vector<Digest>& digests, int64_t cutoff) override;
  Result<std::vector<std::string>> unrecordedBlobs(const std::vector<std::string>& hexes) override;
  Status recordBlobs(const std::vector<std::pair<Digest, uint64_t>>& blobs) override;
  Result<bool> blobReferenced(const Digest& d) override;

  // A read of the schema: the connection is open and the file answers
  // (readiness, /health/ready).
  Status ping();
  // PRAGMA synchronous of this connection (2 = FULL, 1 = NORMAL).
  Result<int64_t> synchronousLevel();

 private:
  Status touchImage(const std::string& repo, const std::string& name);
  // linkBlob, plus the end of an upload session when uuid is not empty.
  Status link(const std::string& uuid, const std::string& repo, const std::string& name, const Digest& d,
              uint64_t size);
  // The blob's GC record, touched now (sqlite_metadata_store_gc.cc); caller holds mu_.
  Status touchBlob(const std::string& digest, uint64_t size);
  Status forgetImageIfEmpty(const std::string& repo, const std::string& name);
  // One DELETE (?1 repo, ?2 name, ?3 key) and, when it removed a row, the
  // image's catalog entry if nothing is left: one transaction.
  Result<bool> deleteAndForget(const std::string& sql, const std::string& repo, const std::string& name,
                               const std::string& key);
  Result<Page> page(Stmt& stmt, std::size_t n);
  // Runs one write that is not content (an upload's row, a manifest's last
  // use) without an fsync of its own under `metadata_sync: full`: the next
  // durable commit makes it durable too. Caller holds mu_. The connection
  // goes back to FULL whatever the write did (if even that fails, loudly).
  Status writeWithoutSync(const std::function<Status()>& write);

  // The first of the write's blobs or child manifests absent from its image, or "".
  Result<std::string> missingReference(const ManifestWrite& w);

  // Lifecycle (sqlite_metadata_store_lifecycle.cc); callers hold mu_ and a transaction.
  // Sets the tag, as the newest push of the image.
  Status writeTag(const std::string& repo, const std::string& name, const std::string& tag, const std::string& digest);
  // Removes the image's oldest tags beyond limit.max (never protected or
  // `fresh` ones), then prunes: the tags removed.
  Result<std::vector<std::string>> enforceTagLimit(const std::string& repo, const std::string& name,
                                                   const TagLimit& limit, const std::vector<std::string>& fresh);
  // Removes the candidate manifests (digest strings) that nothing in the
  // image holds any more, their children and referrers in turn, and the
  // links of blobs no remaining manifest of the image references. Only
  // manifests last used at or before used_by (evictUnusedCache; the rest
  // pass no limit).
  Status prune(const std::string& repo, const std::string& name, std::vector<std::string> candidates,
               int64_t used_by = INT64_MAX);
  // evictUnusedCache for one image, in the caller's transaction.
  Result<CacheEviction> evictImage(const std::string& repo, const std::string& name, int64_t cutoff);
  // Every row of the image, in every table.
  Status removeImageRows(const std::string& repo, const std::string& name);

  // The tag names kept in memory in all (about 40 bytes each).
  static constexpr std::size_t kTagCacheMaxTags = 256 * 1024;

  std::mutex mu_;
  SqliteDb db_;
  TagListCache tag_cache_{kTagCacheMaxTags};  // under mu_
  std::unique_ptr<ReadConnections> reads_;
  const SyncMode sync_;
};

}  // namespace berth::storage

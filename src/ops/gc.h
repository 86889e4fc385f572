// Online garbage collection (docs/design.md "Garbage collection",
// docs/lifecycle.md): mark and sweep over the metadata store. First, the
// remote caches with cache_retention_hours lose what nobody pulled for that
// long (metadata only, MetadataStore::evictUnusedCache). Blobs that no
// repository references and that nothing installed or linked for the grace
// period are deleted, with upload files idle for the upload TTL and empty
// directories that are not part of the layout.
//
// Safe while the registry serves: the sweep re-checks each candidate in a
// metadata transaction and removes its file while holding the blob store's
// ReferenceFence exclusively, which every writer that references a blob
// holds shared (berth/storage/reference_fence.h); a writer in another process
// (berth import-registry2) holds storage/sweep_lock.h instead, and while it
// does, a run stops before its sweep's next batch.
//
// Memory: candidates are read a page of blob records at a time; nothing
// grows with the size of the store.
//
// Thread safety: run() may be called from any thread; one run at a time (a
// second caller gets UNAVAILABLE). cancel() may be called at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "berth/config.h"
#include "berth/core/error.h"
#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"
#include "storage/paths.h"

namespace berth::repo {
class UploadStore;
class RepositoryRegistry;
}

namespace berth::ops {

struct GcOptions {
  int64_t grace_seconds = 3600;         // a blob installed or linked this recently stays
  int64_t upload_ttl_seconds = 86400;   // upload files idle this long go
  bool dry_run = false;                 // count what would go; change nothing
};

// The daemon's options from the `gc:` section.
GcOptions gcOptions(const config::Gc& gc);

// A remote repository's cache_retention_hours, for a run's eviction phase.
struct CacheRetention {
  std::string repo;
  int64_t seconds = 0;
};
// The remote repositories with cache_retention_hours > 0.
std::vector<CacheRetention> cacheRetention(const std::vector<config::Repository>& repos);
// The same, of the repositories serving now (after reloads).
std::vector<CacheRetention> cacheRetention(const repo::RepositoryRegistry& repos);

struct GcResult {
  uint64_t blobs = 0, bytes = 0;  // blobs deleted and their bytes
  uint64_t uploads = 0;           // upload sessions and orphan upload files removed
  uint64_t directories = 0;       // empty directories removed
  uint64_t recorded = 0;          // blob files found without a record (recorded now)
  uint64_t evicted_manifests = 0, evicted_tags = 0;  // from remote caches (cache_retention_hours)
  int64_t duration_ms = 0;
  bool dry_run = false;
  bool cancelled = false;         // stopped early (the server is stopping)
};

class GarbageCollector {
 public:
  GarbageCollector(storage::Paths paths, storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                   std::shared_ptr<repo::UploadStore> uploads);

  // One whole run, logged at info. UNAVAILABLE while another run is going;
  // storage errors end the run with that error (what was freed so far stays freed).
  Result<GcResult> run(const GcOptions& options);
  // Ends a run in progress at its next batch, and every later one at once.
  void cancel() { cancelled_ = true; }
  // Asked at the start of each run (so reloads count); none set: nothing is evicted.
  void setCacheRetention(std::function<std::vector<CacheRetention>()> source);

 private:
  // Remote caches' unused manifests go (metadata only: the sweep frees their layers).
  Status evictPhase(const GcOptions& o, GcResult& r);
  Status uploadsPhase(const GcOptions& o, GcResult& r);
  // Blob files without a record get one; stray empty directories in the shards go.
  Status recordPhase(const GcOptions& o, GcResult& r);
  Status sweepPhase(const GcOptions& o, GcResult& r);
  Status sweepBatch(const std::vector<std::pair<Digest, uint64_t>>& batch, int64_t cutoff, GcResult& r);

  storage::Paths paths_;
  storage::BlobStorePtr blobs_;
  storage::MetadataStorePtr meta_;
  std::shared_ptr<repo::UploadStore> uploads_;
  std::mutex run_mu_;
  std::function<std::vector<CacheRetention>()> retention_;  // under run_mu_
  std::atomic<bool> cancelled_{false};
};

// Runs the collector every `interval` on a thread of its own, until stop().
class GcSchedule {
 public:
  GcSchedule(std::shared_ptr<GarbageCollector> gc, GcOptions options, std::chrono::minutes interval);
  ~GcSchedule();  // stop()
  // Prompt: a run in progress is cancelled at its next batch.
  void stop();

 private:
  std::shared_ptr<GarbageCollector> gc_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::ops

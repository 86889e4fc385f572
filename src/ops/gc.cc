#include "ops/gc.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <string>
#include <vector>

#include "berth/repo/repository.h"
#include "observe/gc_metrics.h"
#include "repo/upload_store.h"
#include "storage/sweep_lock.h"

namespace berth::ops {
namespace {

// Blob records looked at per metadata call, and candidates re-checked and
// removed per hold of the fence: each holds writers up for milliseconds.
constexpr std::size_t kScanPage = 1000;
constexpr std::size_t kSweepBatch = 128;

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

bool isHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

struct Entry {
  std::string name;
  bool dir = false;
};

std::vector<Entry> listDir(const std::string& dir) {
  std::vector<Entry> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back({std::move(name), is_dir});
  }
  ::closedir(d);
  return out;
}

// Removes the empty directories below `dir` (not `dir` itself), deepest
// first; true when `dir` is left empty.
bool removeEmptyBelow(const std::string& dir, bool dry_run, uint64_t& removed) {
  bool empty = true;
  for (const auto& e : listDir(dir)) {
    if (!e.dir) {
      empty = false;
      continue;
    }
    std::string sub = dir + "/" + e.name;
    if (removeEmptyBelow(sub, dry_run, removed) && (dry_run || ::rmdir(sub.c_str()) == 0))
      ++removed;
    else
      empty = false;
  }
  return empty;
}

}  // namespace

GcOptions gcOptions(const config::Gc& gc) {
  return {int64_t{gc.grace_period_minutes} * 60, int64_t{gc.upload_ttl_hours} * 3600, false};
}

std::vector<CacheRetention> cacheRetention(const std::vector<config::Repository>& repos) {
  std::vector<CacheRetention> out;
  for (const auto& r : repos)
    if (r.type == config::RepoType::Remote && r.remote.cache_retention_hours > 0)
      out.push_back({r.key, int64_t{r.remote.cache_retention_hours} * 3600});
  return out;
}

std::vector<CacheRetention> cacheRetention(const repo::RepositoryRegistry& repos) {
  std::vector<config::Repository> settings;
  for (const auto& r : repos.all()) settings.push_back(r->settings());
  return cacheRetention(settings);
}

GarbageCollector::GarbageCollector(storage::Paths paths, storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                                   std::shared_ptr<repo::UploadStore> uploads)
    : paths_(std::move(paths)), blobs_(std::move(blobs)), meta_(std::move(meta)), uploads_(std::move(uploads)) {}

void GarbageCollector::setCacheRetention(std::function<std::vector<CacheRetention>()> source) {
  std::lock_guard lock(run_mu_);
  retention_ = std::move(source);
}

Result<GcResult> GarbageCollector::run(const GcOptions& o) {
  std::unique_lock lock(run_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return fail(ErrorCode::Unavailable, "a garbage collection is already running");
  if (cancelled_) return fail(ErrorCode::Unavailable, "the server is stopping");
  auto started = std::chrono::steady_clock::now();
  GcResult r;
  r.dry_run = o.dry_run;
  spdlog::info("gc: started{} (grace period {} s, upload TTL {} s)", o.dry_run ? " (dry run)" : "", o.grace_seconds,
               o.upload_ttl_seconds);
  Status st = evictPhase(o, r);
  if (st) st = uploadsPhase(o, r);
  if (st) st = recordPhase(o, r);
  if (st) st = sweepPhase(o, r);
  r.cancelled = cancelled_;
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                      .count();
  const char* verb = o.dry_run ? "would free" : "freed";
  spdlog::info("gc: {} {} blobs ({} bytes), {} uploads, {} empty directories, {} {} cached manifests ({} tags) in {} "
               "ms{}{}",
               verb, r.blobs, r.bytes, r.uploads, r.directories, o.dry_run ? "would evict" : "evicted",
               r.evicted_manifests, r.evicted_tags, r.duration_ms,
               r.recorded ? "; recorded " + std::to_string(r.recorded) + " blob files found without a record" : "",
               r.cancelled ? " (cancelled: stopping)" : "");
  if (!o.dry_run) observe::recordGcRun(st.has_value(), r.blobs, r.bytes, double(r.duration_ms) / 1000, now());
  if (!st) {
    spdlog::error("gc: ended early: {}", st.error().message);
    return tl::unexpected(st.error());
  }
  return r;
}

Status GarbageCollector::evictPhase(const GcOptions& o, GcResult& r) {
  if (!retention_) return {};
  for (const auto& c : retention_()) {
    if (cancelled_) return {};
    // Uses are recorded to within kManifestUseResolutionSeconds: this much
    // later, so that nothing goes before its time.
    int64_t cutoff = now() - c.seconds - storage::kManifestUseResolutionSeconds;
    auto ev = meta_->evictUnusedCache(c.repo, cutoff, o.dry_run);
    if (!ev) return tl::unexpected(ev.error());
    r.evicted_manifests += ev->manifests;
    r.evicted_tags += ev->tags;
    if (ev->manifests || ev->tags)
      spdlog::info("gc: {}: {} {} cached manifests and {} tags of {} images unused for {} h", c.repo,
                   o.dry_run ? "would evict" : "evicted", ev->manifests, ev->tags, ev->images, c.seconds / 3600);
  }
  return {};
}

Status GarbageCollector::uploadsPhase(const GcOptions& o, GcResult& r) {
  int64_t cutoff = now() - o.upload_ttl_seconds;
  if (uploads_) {
    r.uploads += uploads_->purgeIdleSince(cutoff, o.dry_run);
    r.uploads += uploads_->removeOrphanFiles(cutoff, o.dry_run);
  }
  for (const auto& dir : {paths_.uploadsDir(), paths_.tmpDir()}) removeEmptyBelow(dir, o.dry_run, r.directories);
  return {};
}

Status GarbageCollector::recordPhase(const GcOptions& o, GcResult& r) {
  static const char* kHex = "0123456789abcdef";
  for (int a = 0; a < 16 && !cancelled_; ++a)
    for (int b = 0; b < 16 && !cancelled_; ++b) {
      std::string shard = paths_.blobsDir() + "/" + kHex[a] + kHex[b];
      std::vector<std::string> names;
      for (const auto& e : listDir(shard)) {
        if (e.dir) {
          std::string sub = shard + "/" + e.name;
          if (removeEmptyBelow(sub, o.dry_run, r.directories) && (o.dry_run || ::rmdir(sub.c_str()) == 0))
            ++r.directories;
        } else if (isHex64(e.name)) {
          names.push_back(e.name);
        }
      }
      auto unrecorded = meta_->unrecordedBlobs(names);
      if (!unrecorded) return tl::unexpected(unrecorded.error());
      std::vector<std::pair<Digest, uint64_t>> found;
      for (const auto& hex : *unrecorded) {
        Digest d = Digest::fromHex(hex);
        auto info = blobs_->stat(d);
        if (!info) continue;  // gone meanwhile
        ++r.recorded;
        if (!o.dry_run) {
          found.emplace_back(d, info->size);
        } else if (o.grace_seconds <= 0) {
          auto used = meta_->blobReferenced(d);
          if (!used) return tl::unexpected(used.error());
          if (!*used) {
            ++r.blobs;
            r.bytes += info->size;
          }
        }
      }
      // Dated now: a file of unknown age gets a whole grace period.
      if (!found.empty())
        if (auto st = meta_->recordBlobs(found); !st) return st;
    }
  return {};
}

Status GarbageCollector::sweepPhase(const GcOptions& o, GcResult& r) {
  // After the record phase, so that files recorded just now count as
  // touched now (with a grace period of 0: collectable in this run).
  int64_t cutoff = now() - o.grace_seconds;
  std::string after;
  do {
    if (cancelled_) return {};
    auto scan = meta_->scanGcCandidates(cutoff, after, kScanPage);
    if (!scan) return tl::unexpected(scan.error());
    after = scan->last;
    auto& found = scan->candidates;
    if (o.dry_run) {
      for (const auto& [d, size] : found) {
        auto info = blobs_->stat(d);
        ++r.blobs;
        r.bytes += info ? info->size : size;
      }
      continue;
    }
    for (std::size_t i = 0; i < found.size() && !cancelled_; i += kSweepBatch) {
      std::vector<std::pair<Digest, uint64_t>> batch(found.begin() + static_cast<std::ptrdiff_t>(i),
                                                      found.begin() + static_cast<std::ptrdiff_t>(
                                                                          std::min(found.size(), i + kSweepBatch)));
      // An import beside us (another process, outside the fence) holds this
      // for its run: stop here, the next run sweeps (storage/sweep_lock.h).
      auto held = storage::SweepLock::tryExclusive(storage::SweepLock::fileIn(paths_.root()));
      if (!held) return tl::unexpected(held.error());
      if (!*held) {
        spdlog::info("gc: sweep deferred to the next run: berth import-registry2 is writing to this storage");
        return {};
      }
      if (auto st = sweepBatch(batch, cutoff, r); !st) return st;
    }
  } while (!after.empty());
  return {};
}

Status GarbageCollector::sweepBatch(const std::vector<std::pair<Digest, uint64_t>>& batch, int64_t cutoff,
                                    GcResult& r) {
  std::vector<Digest> digests;
  for (const auto& c : batch) digests.push_back(c.first);
  // No writer is between finding a file and committing its reference while
  // this is held; the re-check below sees every reference committed before.
  storage::ReferenceFence::Sweep hold(blobs_->fence());
  auto forgotten = meta_->forgetUnreferencedBlobs(digests, cutoff);
  if (!forgotten) return tl::unexpected(forgotten.error());
  for (const auto& d : *forgotten) {
    auto info = blobs_->stat(d);
    auto removed = blobs_->remove(d);
    if (!removed) {
      // Unreferenced and forgotten: a file left behind is recorded again by the next run.
      if (removed.error().code != ErrorCode::BlobUnknown)
        spdlog::warn("gc: could not remove {}: {}", d.str(), removed.error().message);
      continue;
    }
    ++r.blobs;
    r.bytes += info ? info->size : 0;
    spdlog::debug("gc: removed {} ({} bytes)", d.str(), info ? info->size : 0);
  }
  return {};
}

GcSchedule::GcSchedule(std::shared_ptr<GarbageCollector> gc, GcOptions options, std::chrono::minutes interval)
    : gc_(std::move(gc)) {
  thread_ = std::thread([this, options, interval] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      (void)gc_->run(options);  // logs its outcome
      lock.lock();
    }
  });
}

GcSchedule::~GcSchedule() { stop(); }

void GcSchedule::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  gc_->cancel();
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace berth::ops

// A remote cache's retention (cache_retention_hours, docs/remote-repositories.md):
// when each cached manifest was last pulled (`manifests.used`, see the
// upgrade step in sqlite_metadata_store.cc for why a column), and the
// eviction of those nobody pulled for the period, which the GC run does
// before its sweep (src/ops/gc.cc).
//
// The eviction only removes metadata (tags, manifests, their references and
// blob links), each image in one transaction; the bytes are left to the same
// run's sweep and its fence (docs/design.md, "Garbage collection"), as after
// a delete. A pull racing it is serialized by SQLite: its fetch (INSERT OR
// REPLACE: a fresh `created`) or its recorded use commits first and the
// eviction's own re-read keeps the manifest, or the eviction commits first
// and the pull finds no record (or, having read one, no file) and fetches
// the manifest and its layers from the upstream again.
#include <algorithm>
#include <ctime>

#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// Images looked at per read: each is then evicted in a transaction of its own.
constexpr int64_t kImagePage = 100;

// A manifest's last use: its last recorded pull, else when it was stored.
#define BERTH_LAST_USE "MAX(used, created)"

constexpr const char* kStaleImages = "SELECT DISTINCT name FROM manifests WHERE repo=?1 AND name>?2 AND " BERTH_LAST_USE
                                     " <= ?3 ORDER BY name LIMIT ?4";
constexpr const char* kStaleManifests =
    "SELECT digest FROM manifests WHERE repo=?1 AND name=?2 AND " BERTH_LAST_USE " <= ?3";
constexpr const char* kStaleTags = "DELETE FROM tags WHERE repo=?1 AND name=?2 AND digest IN (SELECT digest FROM "
                                   "manifests WHERE repo=?1 AND name=?2 AND " BERTH_LAST_USE " <= ?3)";
constexpr const char* kCountManifests = "SELECT COUNT(*) FROM manifests WHERE repo=?1 AND name=?2";

#undef BERTH_LAST_USE

}  // namespace

Status SqliteMetadataStore::markManifestUsed(const ManifestRecord& m) {
  const int64_t t = now();
  // The hot path: most pulls of a manifest in use end here, with no write.
  if (t - std::max(m.used, m.created) < kManifestUseResolutionSeconds) return {};
  std::lock_guard lock(mu_);
  // Not content: a use lost to a power cut only makes the eviction come
  // sooner. `used < ?4`: concurrent pulls of the same manifest write it
  // once; a manifest evicted meanwhile has no row and gets none.
  return writeWithoutSync([&] {
    return db_.prepare("UPDATE manifests SET used=?4 WHERE repo=?1 AND name=?2 AND digest=?3 AND used < ?4")
        .bind(1, m.repo).bind(2, m.name).bind(3, m.digest.str()).bind(4, t).run();
  });
}

Result<CacheEviction> SqliteMetadataStore::evictImage(const std::string& repo, const std::string& name,
                                                      int64_t cutoff) {
  auto count = [&]() -> Result<int64_t> {
    auto s = db_.prepare(kCountManifests);
    s.bind(1, repo).bind(2, name);
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    return *row ? s.integer(0) : 0;
  };
  auto before = count();
  if (!before) return tl::unexpected(before.error());
  // Read again inside the transaction: a pull that committed a use or a
  // refetch since the page was read keeps its manifest.
  std::vector<std::string> stale;
  {
    auto s = db_.prepare(kStaleManifests);
    s.bind(1, repo).bind(2, name).bind(3, cutoff);
    while (true) {
      auto row = s.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      stale.push_back(s.text(0));
    }
  }
  CacheEviction out;
  if (stale.empty()) return out;
  if (auto st = db_.prepare(kStaleTags).bind(1, repo).bind(2, name).bind(3, cutoff).run(); !st)
    return tl::unexpected(st.error());
  out.tags = static_cast<uint64_t>(db_.changes());
  if (auto st = prune(repo, name, std::move(stale), cutoff); !st) return tl::unexpected(st.error());
  auto after = count();
  if (!after) return tl::unexpected(after.error());
  out.manifests = static_cast<uint64_t>(*before - *after);
  out.images = out.manifests || out.tags ? 1 : 0;
  if (auto st = forgetImageIfEmpty(repo, name); !st) return tl::unexpected(st.error());
  return out;
}

Result<CacheEviction> SqliteMetadataStore::evictUnusedCache(const std::string& repo, int64_t cutoff, bool dry_run) {
  CacheEviction total;
  std::string after;
  while (true) {
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu_);
      auto s = db_.prepare(kStaleImages);
      s.bind(1, repo).bind(2, after).bind(3, cutoff).bind(4, kImagePage);
      while (true) {
        auto row = s.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        names.push_back(s.text(0));
      }
    }
    for (const auto& name : names) {
      std::lock_guard lock(mu_);
      Transaction tx(db_);
      if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
      auto one = evictImage(repo, name, cutoff);
      if (!one) return tl::unexpected(one.error());
      if (!dry_run)  // a dry run's transaction is rolled back when tx goes
        if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
      total.manifests += one->manifests;
      total.tags += one->tags;
      total.images += one->images;
    }
    if (static_cast<int64_t>(names.size()) < kImagePage) return total;
    after = names.back();
  }
}

}  // namespace berth::storage

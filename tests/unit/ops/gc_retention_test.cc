// The garbage collector's eviction phase (remote caches' cache_retention_hours):
// which repositories take part, and that a run evicts what nobody pulled for
// the period and then frees its blobs in the same run.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "fakes/temp_dir.h"
#include "ops/gc.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::ops {
namespace {

using berth::testing::TempDir;

config::Repository repository(const std::string& key, config::RepoType type, unsigned hours) {
  config::Repository r;
  r.key = key;
  r.type = type;
  r.remote.cache_retention_hours = hours;
  return r;
}

TEST(CacheRetentionTest, OnlyRemotesWithARetentionTakePart) {
  auto out = cacheRetention(std::vector<config::Repository>{
      repository("hub", config::RepoType::Remote, 24), repository("forever", config::RepoType::Remote, 0),
      repository("local", config::RepoType::Local, 5), repository("quay", config::RepoType::Remote, 1)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].repo, "hub");
  EXPECT_EQ(out[0].seconds, 24 * 3600);
  EXPECT_EQ(out[1].repo, "quay");
  EXPECT_EQ(out[1].seconds, 3600);
}

class GcRetentionTest : public ::testing::Test {
 protected:
  // An image of repo/name: a layer linked and a tagged manifest naming it,
  // stored as a remote's fetch stores them. Its manifest's digest and the layer's.
  std::pair<Digest, Digest> image(const std::string& repo, const std::string& name, const std::string& layer_bytes) {
    auto layer = blobs->putBytes(layer_bytes);
    EXPECT_TRUE(layer && meta->linkBlob(repo, name, *layer, layer_bytes.size()));
    std::string bytes = "{\"manifest\":\"" + repo + "/" + name + "\"}";
    auto d = blobs->putBytes(bytes);
    EXPECT_TRUE(d);
    storage::ManifestWrite w;
    w.record = {repo, name, *d, "application/vnd.oci.image.manifest.v1+json", bytes.size(), "", "", "", 0};
    w.blobs = {*layer};
    w.tag = "1";
    EXPECT_TRUE(meta->putManifest(w));
    return {*d, *layer};
  }
  // Dates the image's manifests `seconds` earlier, as if cached (and last
  // pulled) that long ago.
  void age(const std::string& repo, const std::string& name, int64_t seconds) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(paths.metadataDb().c_str(), &db), SQLITE_OK);
    std::string sql = "UPDATE manifests SET created=created-" + std::to_string(seconds) + " WHERE repo='" + repo +
                      "' AND name='" + name + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  bool present(const Digest& d) { return blobs->stat(d).has_value(); }
  GcResult run(bool dry_run = false) {
    auto r = gc->run(GcOptions{0, 24 * 3600, dry_run});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : GcResult{};
  }

  TempDir dir;
  storage::Paths paths{dir.path()};
  std::shared_ptr<storage::FsBlobStore> blobs = std::make_shared<storage::FsBlobStore>(paths);
  std::shared_ptr<storage::SqliteMetadataStore> meta =
      std::make_shared<storage::SqliteMetadataStore>(paths.metadataDb(), storage::SyncMode::Normal);
  std::shared_ptr<repo::UploadStore> uploads = std::make_shared<repo::UploadStore>(paths, meta, blobs);
  std::shared_ptr<GarbageCollector> gc = std::make_shared<GarbageCollector>(paths, blobs, meta, uploads);
};

TEST_F(GcRetentionTest, UnusedCacheIsEvictedAndItsBlobsFreedInTheSameRun) {
  auto [old_manifest, old_layer] = image("hub", "old", "a layer nobody pulled for two hours");
  auto [new_manifest, new_layer] = image("hub", "new", "a layer pulled just now");
  auto [local_manifest, local_layer] = image("local", "app", "a local layer as old");
  auto [other_manifest, other_layer] = image("forever", "old", "a layer of a remote without retention");
  age("hub", "old", 2 * 3600);
  age("local", "app", 2 * 3600);
  age("forever", "old", 2 * 3600);

  // No retention known: nothing is evicted.
  auto none = run();
  EXPECT_EQ(none.evicted_manifests, 0u);
  EXPECT_EQ(none.blobs, 0u);

  gc->setCacheRetention([] { return std::vector<CacheRetention>{{"hub", 3600}}; });
  auto dry = run(/*dry_run=*/true);
  EXPECT_EQ(dry.evicted_manifests, 1u);
  EXPECT_EQ(dry.evicted_tags, 1u);
  EXPECT_TRUE(*meta->resolveTag("hub", "old", "1"));

  auto r = run();
  EXPECT_EQ(r.evicted_manifests, 1u);
  EXPECT_EQ(r.evicted_tags, 1u);
  EXPECT_EQ(r.blobs, 2u) << "the evicted manifest's bytes and its layer";
  EXPECT_FALSE(present(old_manifest));
  EXPECT_FALSE(present(old_layer));
  EXPECT_FALSE(*meta->imageExists("hub", "old"));
  for (const auto& d : {new_manifest, new_layer, local_manifest, local_layer, other_manifest, other_layer})
    EXPECT_TRUE(present(d)) << d.str();
  EXPECT_TRUE(*meta->resolveTag("hub", "new", "1"));
  EXPECT_TRUE(*meta->resolveTag("local", "app", "1"));
  EXPECT_TRUE(*meta->resolveTag("forever", "old", "1"));
}

TEST_F(GcRetentionTest, AManifestUnusedForLessThanItsRetentionStays) {
  auto [manifest, layer] = image("hub", "app", "a layer pulled 50 minutes ago");
  age("hub", "app", 50 * 60);
  gc->setCacheRetention([] { return std::vector<CacheRetention>{{"hub", 3600}}; });
  auto r = run();
  EXPECT_EQ(r.evicted_manifests, 0u);
  EXPECT_TRUE(present(manifest));
  EXPECT_TRUE(present(layer));
}

}  // namespace
}  // namespace berth::ops

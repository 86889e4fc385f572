// A remote cache's retention in the metadata store (cache_retention_hours):
// the recorded last use of a manifest (markManifestUsed) and the eviction of
// what nobody used since a cutoff (evictUnusedCache).
#include <gtest/gtest.h>

#include <ctime>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

using berth::testing::TempDir;

Digest dg(const std::string& s) { return Sha256::of(s); }
int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// Stored (cached) this long ago, and not used since.
constexpr int64_t kLongAgo = 1000000;
constexpr int64_t kCutoff = 2000000;  // after kLongAgo, long before now

class RetentionStoreTest : public ::testing::Test {
 protected:
  // An image manifest `content` in repo/name, stored at `created` (0: now),
  // referencing the blobs `layers` (linked first), tagged when `tag` is given.
  void image(const std::string& repo, const std::string& name, const std::string& content,
             const std::vector<std::string>& layers, std::optional<std::string> tag, int64_t created,
             std::string subject = {}) {
    ManifestWrite w;
    w.record = {repo, name, dg(content), "application/vnd.oci.image.manifest.v1+json", content.size(), subject,
                "", "", created};
    for (const auto& l : layers) {
      ASSERT_TRUE(store.linkBlob(repo, name, dg(l), l.size()));
      w.blobs.push_back(dg(l));
    }
    w.tag = std::move(tag);
    ASSERT_TRUE(store.putManifest(w));
  }
  void index(const std::string& repo, const std::string& name, const std::string& content,
             const std::vector<std::string>& children, std::optional<std::string> tag, int64_t created) {
    ManifestWrite w;
    w.record = {repo, name, dg(content), "application/vnd.oci.image.index.v1+json", content.size(), "", "", "",
                created};
    for (const auto& c : children) w.manifests.push_back(dg(c));
    w.tag = std::move(tag);
    ASSERT_TRUE(store.putManifest(w));
  }
  // A pull of the manifest, as the remote repository records it.
  void pull(const std::string& repo, const std::string& name, const std::string& content) {
    auto m = store.manifest(repo, name, dg(content));
    ASSERT_TRUE(m && *m);
    ASSERT_TRUE(store.markManifestUsed(**m));
  }
  bool hasManifest(const std::string& repo, const std::string& name, const std::string& content) {
    auto m = store.manifest(repo, name, dg(content));
    return m && m->has_value();
  }
  bool linked(const std::string& repo, const std::string& name, const std::string& blob) {
    auto l = store.linkedBlobSize(repo, name, dg(blob));
    return l && l->has_value();
  }
  std::vector<std::string> tags(const std::string& repo, const std::string& name) {
    return store.listTags(repo, name, "", 1000)->items;
  }
  CacheEviction evict(const std::string& repo, bool dry_run = false) {
    auto r = store.evictUnusedCache(repo, kCutoff, dry_run);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : CacheEviction{};
  }

  TempDir dir;
  SqliteMetadataStore store{dir / "metadata.db"};
};

TEST_F(RetentionStoreTest, UnusedImageGoesWithItsTagsAndLinksAUsedOneStays) {
  image("remote", "old", "m-old", {"config-old", "layer-old"}, "1", kLongAgo);
  ASSERT_TRUE(store.putManifest([&] {
    ManifestWrite w;  // a second tag of the same manifest
    w.record = {"remote", "old", dg("m-old"), "application/vnd.oci.image.manifest.v1+json", 5, "", "", "", kLongAgo};
    w.blobs = {dg("config-old"), dg("layer-old")};
    w.tag = "latest";
    return w;
  }()));
  image("remote", "new", "m-new", {"config-new", "layer-new"}, "1", 0);

  auto r = evict("remote");
  EXPECT_EQ(r.manifests, 1u);
  EXPECT_EQ(r.tags, 2u);
  EXPECT_EQ(r.images, 1u);
  EXPECT_FALSE(hasManifest("remote", "old", "m-old"));
  EXPECT_TRUE(tags("remote", "old").empty());
  EXPECT_FALSE(linked("remote", "old", "layer-old"));
  EXPECT_FALSE(linked("remote", "old", "config-old"));
  EXPECT_FALSE(*store.imageExists("remote", "old")) << "an image left with nothing leaves the catalog";
  EXPECT_TRUE(hasManifest("remote", "new", "m-new"));
  EXPECT_EQ(tags("remote", "new"), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(linked("remote", "new", "layer-new"));
  // Nothing is left to evict.
  EXPECT_EQ(evict("remote").manifests, 0u);
}

TEST_F(RetentionStoreTest, APullKeepsAManifestCachedLongAgo) {
  image("remote", "app", "m1", {"layer"}, "1", kLongAgo);
  pull("remote", "app", "m1");
  auto m = store.manifest("remote", "app", dg("m1"));
  ASSERT_TRUE(m && *m);
  EXPECT_GE((*m)->used, now() - 60);
  EXPECT_EQ(evict("remote").manifests, 0u);
  EXPECT_TRUE(hasManifest("remote", "app", "m1"));
  EXPECT_EQ(tags("remote", "app"), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(linked("remote", "app", "layer"));
}

TEST_F(RetentionStoreTest, APullWithinTheResolutionWritesNothing) {
  image("remote", "app", "m1", {"layer"}, "1", now() - 10);
  pull("remote", "app", "m1");
  EXPECT_EQ((*store.manifest("remote", "app", dg("m1")))->used, 0) << "stored 10 s ago: its use needs no write";
  image("remote", "app", "m2", {"layer"}, "2", now() - kManifestUseResolutionSeconds - 10);
  pull("remote", "app", "m2");
  int64_t first = (*store.manifest("remote", "app", dg("m2")))->used;
  EXPECT_GT(first, 0);
  pull("remote", "app", "m2");
  EXPECT_EQ((*store.manifest("remote", "app", dg("m2")))->used, first);
}

TEST_F(RetentionStoreTest, AUseRecordedForAManifestEvictedMeanwhileWritesNothing) {
  image("remote", "app", "m1", {"layer"}, "1", kLongAgo);
  auto m = store.manifest("remote", "app", dg("m1"));  // a pull read it...
  ASSERT_TRUE(m && *m);
  EXPECT_EQ(evict("remote").manifests, 1u);  // ...the eviction came first
  ASSERT_TRUE(store.markManifestUsed(**m));
  EXPECT_FALSE(hasManifest("remote", "app", "m1"));
  EXPECT_FALSE(*store.imageExists("remote", "app"));
}

TEST_F(RetentionStoreTest, ALayerAnotherManifestStillUsesKeepsItsLink) {
  image("remote", "app", "m-old", {"base", "old-top"}, "1", kLongAgo);
  image("remote", "app", "m-new", {"base", "new-top"}, "2", 0);
  auto r = evict("remote");
  EXPECT_EQ(r.manifests, 1u);
  EXPECT_EQ(r.tags, 1u);
  EXPECT_EQ(tags("remote", "app"), (std::vector<std::string>{"2"}));
  EXPECT_TRUE(linked("remote", "app", "base"));
  EXPECT_TRUE(linked("remote", "app", "new-top"));
  EXPECT_FALSE(linked("remote", "app", "old-top"));
  EXPECT_TRUE(*store.imageExists("remote", "app"));
}

TEST_F(RetentionStoreTest, AnIndexInUseKeepsItsPlatformsAndAPlatformInUseOutlivesItsIndex) {
  // multi:1 pulled recently; the platform it lists was stored long ago.
  image("remote", "multi", "amd64", {"layer-amd64"}, std::nullopt, kLongAgo);
  index("remote", "multi", "index", {"amd64"}, "1", 0);
  // single:1 is an index nobody pulled, its arm64 platform pulled by digest.
  image("remote", "single", "arm64", {"layer-arm64"}, std::nullopt, kLongAgo);
  image("remote", "single", "s390x", {"layer-s390x"}, std::nullopt, kLongAgo);
  index("remote", "single", "old-index", {"arm64", "s390x"}, "1", kLongAgo);
  pull("remote", "single", "arm64");

  auto r = evict("remote");
  EXPECT_TRUE(hasManifest("remote", "multi", "index"));
  EXPECT_TRUE(hasManifest("remote", "multi", "amd64"));
  EXPECT_TRUE(linked("remote", "multi", "layer-amd64"));
  EXPECT_FALSE(hasManifest("remote", "single", "old-index"));
  EXPECT_TRUE(tags("remote", "single").empty());
  EXPECT_FALSE(hasManifest("remote", "single", "s390x"));
  EXPECT_FALSE(linked("remote", "single", "layer-s390x"));
  EXPECT_TRUE(hasManifest("remote", "single", "arm64"));
  EXPECT_TRUE(linked("remote", "single", "layer-arm64"));
  EXPECT_EQ(r.manifests, 2u);
  EXPECT_EQ(r.tags, 1u);
}

TEST_F(RetentionStoreTest, AReferrerOfAnEvictedManifestGoesUnlessItsTagIsInUse) {
  image("remote", "app", "m1", {"layer"}, "1", kLongAgo);
  image("remote", "app", "sbom", {"sbom-layer"}, std::nullopt, kLongAgo, dg("m1").str());
  image("remote", "app", "sig", {"sig-layer"}, "sha256-m1.sig", 0, dg("m1").str());
  auto r = evict("remote");
  EXPECT_FALSE(hasManifest("remote", "app", "m1"));
  EXPECT_FALSE(hasManifest("remote", "app", "sbom"));
  EXPECT_FALSE(linked("remote", "app", "sbom-layer"));
  EXPECT_TRUE(hasManifest("remote", "app", "sig")) << "its own tag, pulled recently";
  EXPECT_EQ(r.manifests, 2u);
}

TEST_F(RetentionStoreTest, OnlyTheRepositoryAskedFor) {
  image("local", "app", "m1", {"layer"}, "1", kLongAgo);
  image("other-remote", "app", "m1", {"layer"}, "1", kLongAgo);
  image("remote", "app", "m1", {"layer"}, "1", kLongAgo);
  EXPECT_EQ(evict("remote").manifests, 1u);
  EXPECT_TRUE(hasManifest("local", "app", "m1"));
  EXPECT_TRUE(linked("local", "app", "layer"));
  EXPECT_TRUE(hasManifest("other-remote", "app", "m1"));
  EXPECT_FALSE(hasManifest("remote", "app", "m1"));
}

TEST_F(RetentionStoreTest, DryRunCountsTheSameAndChangesNothing) {
  image("remote", "a", "m1", {"layer-1"}, "1", kLongAgo);
  image("remote", "b", "m2", {"layer-2"}, "x", kLongAgo);
  image("remote", "b", "m3", {"layer-3"}, "y", 0);
  auto dry = evict("remote", /*dry_run=*/true);
  EXPECT_EQ(dry.manifests, 2u);
  EXPECT_EQ(dry.tags, 2u);
  EXPECT_EQ(dry.images, 2u);
  EXPECT_TRUE(hasManifest("remote", "a", "m1"));
  EXPECT_TRUE(linked("remote", "b", "layer-2"));
  EXPECT_EQ(tags("remote", "b"), (std::vector<std::string>{"x", "y"}));
  auto real = evict("remote");
  EXPECT_EQ(real.manifests, dry.manifests);
  EXPECT_EQ(real.tags, dry.tags);
  EXPECT_EQ(tags("remote", "b"), (std::vector<std::string>{"y"}));
}

TEST_F(RetentionStoreTest, ManyImagesOverSeveralPages) {
  for (int i = 0; i < 250; ++i) {
    std::string n = "img" + std::to_string(i);
    image("remote", n, "m" + n, {"layer" + n}, "1", i % 5 == 0 ? 0 : kLongAgo);
  }
  auto r = evict("remote");
  EXPECT_EQ(r.manifests, 200u);
  EXPECT_EQ(r.images, 200u);
  EXPECT_EQ(store.listImages("remote", "", 1000)->items.size(), 50u);
}

}  // namespace
}  // namespace berth::storage

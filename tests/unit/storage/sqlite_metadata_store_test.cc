#include "storage/sqlite_metadata_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"

namespace berth::storage {
namespace {

using berth::testing::TempDir;

Digest dg(const std::string& s) { return Sha256::of(s); }

ManifestWrite manifestWrite(const std::string& repo, const std::string& name, const std::string& content,
                            std::optional<std::string> tag, std::string subject = {}) {
  ManifestWrite w;
  w.record.repo = repo;
  w.record.name = name;
  w.record.digest = dg(content);
  w.record.media_type = "application/vnd.oci.image.manifest.v1+json";
  w.record.size = content.size();
  w.record.subject = std::move(subject);
  w.blobs = {dg("config"), dg("layer")};
  w.tag = std::move(tag);
  return w;
}

class MetadataStoreTest : public ::testing::Test {
 protected:
  TempDir dir;
  SqliteMetadataStore store{dir / "metadata.db"};
};

TEST_F(MetadataStoreTest, BlobLinksArePerRepositoryAndImage) {
  ASSERT_TRUE(store.linkBlob("local", "app", dg("a"), 1));
  EXPECT_EQ(**store.linkedBlobSize("local", "app", dg("a")), 1u);
  EXPECT_FALSE(*store.linkedBlobSize("dev", "app", dg("a")));
  EXPECT_FALSE(*store.linkedBlobSize("local", "other", dg("a")));
  EXPECT_TRUE(*store.unlinkBlob("local", "app", dg("a")));
  EXPECT_FALSE(*store.unlinkBlob("local", "app", dg("a")));
  EXPECT_FALSE(*store.linkedBlobSize("local", "app", dg("a")));
}

TEST_F(MetadataStoreTest, ManifestTagsAndDeletion) {
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "app", "m1", "v1")));
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "app", "m1", "latest")));
  EXPECT_EQ(**store.resolveTag("local", "app", "v1"), dg("m1"));
  auto rec = store.manifest("local", "app", dg("m1"));
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->size, 2u);
  EXPECT_TRUE(*store.deleteTag("local", "app", "v1"));
  EXPECT_FALSE(*store.resolveTag("local", "app", "v1"));
  EXPECT_TRUE(*store.manifest("local", "app", dg("m1")));
  EXPECT_TRUE(*store.deleteManifest("local", "app", dg("m1")));
  EXPECT_FALSE(*store.resolveTag("local", "app", "latest")) << "deleting a manifest removes its tags";
  EXPECT_FALSE(*store.deleteManifest("local", "app", dg("m1")));
}

TEST_F(MetadataStoreTest, TagsArePagedInOrder) {
  for (auto t : {"b", "a", "d", "c", "e"}) ASSERT_TRUE(store.putManifest(manifestWrite("local", "app", "m", t)));
  auto p1 = store.listTags("local", "app", "", 2);
  EXPECT_EQ(p1->items, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p1->more);
  auto p3 = store.listTags("local", "app", "d", 2);
  EXPECT_EQ(p3->items, (std::vector<std::string>{"e"}));
  EXPECT_FALSE(p3->more);
}

TEST_F(MetadataStoreTest, ImagesListedAcrossAndWithinRepositories) {
  ASSERT_TRUE(store.linkBlob("b-repo", "x", dg("1"), 1));
  ASSERT_TRUE(store.linkBlob("a-repo", "z", dg("1"), 1));
  ASSERT_TRUE(store.linkBlob("a-repo", "y/w", dg("1"), 1));
  EXPECT_EQ(store.listImages("", "", 10)->items, (std::vector<std::string>{"a-repo/y/w", "a-repo/z", "b-repo/x"}));
  EXPECT_EQ(store.listImages("a-repo", "a-repo/y/w", 10)->items, (std::vector<std::string>{"a-repo/z"}));
  EXPECT_TRUE(*store.imageExists("b-repo", "x"));
  EXPECT_FALSE(*store.imageExists("b-repo", "y"));
}

TEST_F(MetadataStoreTest, ReferrersBySubject) {
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "app", "sig", std::nullopt, dg("target").str())));
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "app", "plain", std::nullopt)));
  auto refs = store.referrers("local", "app", dg("target"));
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].digest, dg("sig"));
}

TEST_F(MetadataStoreTest, UploadsSurviveReopen) {
  ASSERT_TRUE(store.createUpload({"u1", "local", "app", 100, "alice"}));
  SqliteMetadataStore reopened(dir / "metadata.db");
  auto u = reopened.upload("u1");
  ASSERT_TRUE(u && *u);
  EXPECT_EQ((*u)->name, "app");
  EXPECT_EQ((*u)->owner, "alice");
  EXPECT_EQ((*u)->created, 100);
  ASSERT_EQ(reopened.uploads()->size(), 1u);
  ASSERT_TRUE(reopened.deleteUpload("u1"));
  EXPECT_FALSE(*reopened.upload("u1"));
  EXPECT_TRUE(reopened.uploads()->empty());
}

TEST_F(MetadataStoreTest, UploadsAreCountedPerRepositoryAndOwner) {
  ASSERT_TRUE(store.createUpload({"u1", "local", "app", 0, "alice"}));
  ASSERT_TRUE(store.createUpload({"u2", "local", "other", 0, "bob"}));
  ASSERT_TRUE(store.createUpload({"u3", "dev", "app", 0, "alice"}));
  auto c = store.countUploads("local", "alice");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->in_repo, 2u);
  EXPECT_EQ(c->by_owner, 2u);
  c = store.countUploads("prod", "carol");
  EXPECT_EQ(c->in_repo, 0u);
  EXPECT_EQ(c->by_owner, 0u);
}

TEST(MetadataStoreUpgrade, UploadsTableWithoutOwnerGetsOne) {
  berth::testing::TempDir dir;
  {
    SqliteDb db(dir / "metadata.db");
    ASSERT_TRUE(db.exec("CREATE TABLE uploads(uuid TEXT PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL, "
                        "created INTEGER NOT NULL) WITHOUT ROWID; "
                        "INSERT INTO uploads VALUES('old', 'local', 'app', 5)"));
  }
  SqliteMetadataStore store(dir / "metadata.db");
  auto u = store.upload("old");
  ASSERT_TRUE(u && *u);
  EXPECT_EQ((*u)->owner, "");
  EXPECT_EQ(store.countUploads("local", "")->by_owner, 1u);
}

// Deleting the last tag, manifest or link of an image takes it out of the catalog.
TEST_F(MetadataStoreTest, EmptiedImagesAreNoLongerListed) {
  ASSERT_TRUE(store.linkBlob("local", "a", dg("config"), 1));
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "a", "m1", "v1")));
  ASSERT_TRUE(store.linkBlob("local", "b", dg("layer"), 1));
  ASSERT_TRUE(store.putManifest(manifestWrite("local", "c", "m2", "v1")));
  EXPECT_TRUE(*store.deleteTag("local", "a", "v1"));
  EXPECT_TRUE(*store.imageExists("local", "a")) << "its manifest and link are left";
  EXPECT_TRUE(*store.deleteManifest("local", "a", dg("m1")));
  EXPECT_TRUE(*store.imageExists("local", "a")) << "its blob link is left";
  EXPECT_TRUE(*store.unlinkBlob("local", "a", dg("config")));
  EXPECT_FALSE(*store.imageExists("local", "a"));
  EXPECT_TRUE(*store.unlinkBlob("local", "b", dg("layer")));
  EXPECT_TRUE(*store.deleteManifest("local", "c", dg("m2")));
  EXPECT_TRUE(store.listImages("", "", 10)->items.empty());
  EXPECT_FALSE(*store.unlinkBlob("local", "b", dg("layer")));
  ASSERT_TRUE(store.linkBlob("local", "b", dg("layer"), 1));  // pushed again: listed again
  EXPECT_EQ(store.listImages("local", "", 10)->items, (std::vector<std::string>{"local/b"}));
}

TEST(MetadataStoreUpgrade, ImagesEmptiedByAnOlderVersionAreForgottenAtOpen) {
  berth::testing::TempDir dir;
  {
    SqliteMetadataStore store(dir / "metadata.db");
    ASSERT_TRUE(store.linkBlob("local", "kept", dg("a"), 1));
  }
  {
    SqliteDb db(dir / "metadata.db");  // an older version left this row behind
    ASSERT_TRUE(db.exec("INSERT INTO images(path, repo, name, created) VALUES('local/stale', 'local', 'stale', 1)"));
  }
  SqliteMetadataStore store(dir / "metadata.db");
  EXPECT_EQ(store.listImages("", "", 10)->items, (std::vector<std::string>{"local/kept"}));
}

TEST(MetadataStoreSync, FullByDefaultNormalOnRequest) {
  berth::testing::TempDir dir;
  EXPECT_EQ(*SqliteMetadataStore(dir / "a.db").synchronousLevel(), 2) << "FULL";
  EXPECT_EQ(*SqliteMetadataStore(dir / "b.db", SyncMode::Full).synchronousLevel(), 2) << "FULL";
  EXPECT_EQ(*SqliteMetadataStore(dir / "c.db", SyncMode::Normal).synchronousLevel(), 1) << "NORMAL";
}

TEST(MetadataStoreSync, RecordingAnUploadLeavesCommitsDurable) {
  berth::testing::TempDir dir;
  for (auto mode : {SyncMode::Full, SyncMode::Normal}) {
    SqliteMetadataStore store(dir / (mode == SyncMode::Full ? "full.db" : "normal.db"), mode);
    ASSERT_TRUE(store.createUpload({"u1", "local", "app", 0, "alice"}));
    EXPECT_EQ(*store.synchronousLevel(), mode == SyncMode::Full ? 2 : 1);
  }
}

TEST_F(MetadataStoreTest, LinkingAnUploadedBlobEndsItsSession) {
  ASSERT_TRUE(store.createUpload({"u1", "local", "app", 0, "alice"}));
  ASSERT_TRUE(store.linkUploadedBlob("u1", "local", "app", dg("a"), 7));
  EXPECT_EQ(**store.linkedBlobSize("local", "app", dg("a")), 7u);
  EXPECT_FALSE(*store.upload("u1"));
  EXPECT_TRUE(*store.imageExists("local", "app"));
}

TEST_F(MetadataStoreTest, ConcurrentWritersAreSerialized) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        ASSERT_TRUE(store.linkBlob("local", "img" + std::to_string(t), dg(std::to_string(i)), 1));
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(store.listImages("local", "", 100)->items.size(), 8u);
}

}  // namespace
}  // namespace berth::storage

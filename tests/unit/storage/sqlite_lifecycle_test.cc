// The metadata store's lifecycle operations: promotion, deletion with
// pruning, max unique tags (docs/lifecycle.md).
#include <gtest/gtest.h>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

using berth::testing::TempDir;

Digest dg(const std::string& s) { return Sha256::of(s); }

class LifecycleStoreTest : public ::testing::Test {
 protected:
  // An image manifest `content` in repo/name referencing the blobs `layers`
  // (linked first), tagged when `tag` is given.
  void image(const std::string& repo, const std::string& name, const std::string& content,
             const std::vector<std::string>& layers, std::optional<std::string> tag, std::string subject = {},
             TagLimit limit = {}) {
    ManifestWrite w;
    w.record = {repo, name, dg(content), "application/vnd.oci.image.manifest.v1+json", content.size(), subject,
                "", "", 0};
    for (const auto& l : layers) {
      ASSERT_TRUE(store.linkBlob(repo, name, dg(l), l.size()));
      w.blobs.push_back(dg(l));
    }
    w.tag = std::move(tag);
    w.limit = std::move(limit);
    auto r = store.putManifest(w);
    ASSERT_TRUE(r);
    last_evicted = r->evicted;
  }
  void index(const std::string& repo, const std::string& name, const std::string& content,
             const std::vector<std::string>& children, std::optional<std::string> tag) {
    ManifestWrite w;
    w.record = {repo, name, dg(content), "application/vnd.oci.image.index.v1+json", content.size(), "", "", "", 0};
    for (const auto& c : children) w.manifests.push_back(dg(c));
    w.tag = std::move(tag);
    ASSERT_TRUE(store.putManifest(w));
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
  PromoteSpec spec(std::optional<std::string> tag, bool move) {
    PromoteSpec p{"dev", "app", "prod", "app", std::move(tag), "", move, false, {}};
    return p;
  }

  TempDir dir;
  SqliteMetadataStore store{dir / "metadata.db"};
  std::vector<std::string> last_evicted;
};

TEST_F(LifecycleStoreTest, CopyOfATagCarriesTheManifestItsLinksAndTheTag) {
  image("dev", "app", "m1", {"config", "layer"}, "v1");
  auto out = store.promote(spec("v1", false));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, PromoteStatus::Done);
  EXPECT_EQ(out->manifests, 1u);
  EXPECT_EQ(out->blobs, 2u);
  ASSERT_EQ(out->tags.size(), 1u);
  EXPECT_EQ(out->tags[0], std::make_pair(std::string("v1"), dg("m1")));
  EXPECT_EQ(**store.resolveTag("prod", "app", "v1"), dg("m1"));
  EXPECT_TRUE(hasManifest("prod", "app", "m1"));
  EXPECT_EQ(**store.linkedBlobSize("prod", "app", dg("layer")), 5u) << "the source link's size";
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"v1"})) << "a copy leaves the source alone";
  EXPECT_TRUE(hasManifest("dev", "app", "m1"));
  EXPECT_TRUE(*store.imageExists("prod", "app"));
}

TEST_F(LifecycleStoreTest, RetagAndRenameInTheTarget) {
  image("dev", "app", "m1", {"layer"}, "v1");
  PromoteSpec p{"dev", "app", "prod", "team/app", "v1", "release-1", false, false, {}};
  ASSERT_EQ(store.promote(p)->status, PromoteStatus::Done);
  EXPECT_EQ(tags("prod", "team/app"), (std::vector<std::string>{"release-1"}));
  EXPECT_TRUE(linked("prod", "team/app", "layer"));
  EXPECT_FALSE(*store.imageExists("prod", "app"));
}

TEST_F(LifecycleStoreTest, AnIndexBringsItsChildrenAndTheirLinks) {
  image("dev", "app", "amd64", {"l-amd64"}, std::nullopt);
  image("dev", "app", "arm64", {"l-arm64"}, std::nullopt);
  index("dev", "app", "idx", {"amd64", "arm64"}, "multi");
  auto out = store.promote(spec("multi", false));
  ASSERT_EQ(out->status, PromoteStatus::Done);
  EXPECT_EQ(out->manifests, 3u);
  for (auto m : {"idx", "amd64", "arm64"}) EXPECT_TRUE(hasManifest("prod", "app", m)) << m;
  for (auto l : {"l-amd64", "l-arm64"}) EXPECT_TRUE(linked("prod", "app", l)) << l;
}

TEST_F(LifecycleStoreTest, ReferrersTravelWithTheirSubject) {
  image("dev", "app", "m1", {"layer"}, "v1");
  image("dev", "app", "sig", {"sig-blob"}, std::nullopt, dg("m1").str());
  image("dev", "app", "unrelated", {"other"}, std::nullopt);
  ASSERT_EQ(store.promote(spec("v1", true))->status, PromoteStatus::Done);
  EXPECT_TRUE(hasManifest("prod", "app", "sig"));
  EXPECT_TRUE(linked("prod", "app", "sig-blob"));
  EXPECT_EQ(store.referrers("prod", "app", dg("m1"))->size(), 1u);
  EXPECT_FALSE(hasManifest("prod", "app", "unrelated"));
  EXPECT_FALSE(hasManifest("dev", "app", "sig")) << "moved with its subject";
  EXPECT_TRUE(hasManifest("dev", "app", "unrelated"));
}

TEST_F(LifecycleStoreTest, MoveTakesFromTheSourceWhatTheTagAloneHeld) {
  image("dev", "app", "m1", {"a", "shared"}, "v1");
  image("dev", "app", "m2", {"shared", "c"}, "v2");
  ASSERT_TRUE(store.putManifest({{"dev", "app", dg("m2"), "x", 2, "", "", "", 0}, {}, {}, "also-m2", {}}));
  ASSERT_EQ(store.promote(spec("v1", true))->status, PromoteStatus::Done);
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"also-m2", "v2"}));
  EXPECT_FALSE(hasManifest("dev", "app", "m1"));
  EXPECT_FALSE(linked("dev", "app", "a"));
  EXPECT_TRUE(linked("dev", "app", "shared")) << "m2 still references it";
  EXPECT_TRUE(linked("prod", "app", "a"));
  // Moving a tag whose manifest another tag still names leaves the manifest.
  ASSERT_EQ(store.promote(spec("v2", true))->status, PromoteStatus::Done);
  EXPECT_TRUE(hasManifest("dev", "app", "m2"));
  EXPECT_TRUE(linked("dev", "app", "c"));
}

TEST_F(LifecycleStoreTest, MovingTheWholeImageEmptiesTheSource) {
  image("dev", "app", "m1", {"a"}, "v1");
  image("dev", "app", "m2", {"b"}, "v2");
  image("dev", "app", "untagged", {"c"}, std::nullopt);
  auto out = store.promote(spec(std::nullopt, true));
  ASSERT_EQ(out->status, PromoteStatus::Done);
  EXPECT_EQ(out->manifests, 3u);
  EXPECT_EQ(tags("prod", "app"), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(hasManifest("prod", "app", "untagged"));
  EXPECT_FALSE(*store.imageExists("dev", "app"));
  EXPECT_TRUE(store.listImages("dev", "", 10)->items.empty());
}

TEST_F(LifecycleStoreTest, RenameWithinTheImage) {
  image("dev", "app", "m1", {"a"}, "old");
  PromoteSpec p{"dev", "app", "dev", "app", "old", "new", true, false, {}};
  ASSERT_EQ(store.promote(p)->status, PromoteStatus::Done);
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"new"}));
  EXPECT_TRUE(hasManifest("dev", "app", "m1"));
  EXPECT_TRUE(linked("dev", "app", "a"));
}

// Every refusal leaves both images exactly as they were.
TEST_F(LifecycleStoreTest, RefusalsChangeNothing) {
  image("dev", "app", "m1", {"a"}, "v1");
  image("dev", "app", "m2", {"b"}, "v2");
  image("prod", "app", "p1", {"p"}, "v2");
  auto check = [&](const PromoteSpec& p, PromoteStatus expected, const std::string& detail) {
    auto out = store.promote(p);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->status, expected);
    EXPECT_EQ(out->detail, detail);
    EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"v1", "v2"}));
    EXPECT_EQ(tags("prod", "app"), (std::vector<std::string>{"v2"}));
    EXPECT_EQ(**store.resolveTag("prod", "app", "v2"), dg("p1"));
    EXPECT_FALSE(hasManifest("prod", "app", "m1"));
    EXPECT_FALSE(linked("prod", "app", "a"));
    EXPECT_TRUE(hasManifest("dev", "app", "m2"));
  };
  check(spec("nope", true), PromoteStatus::TagUnknown, "nope");
  check({"dev", "ghost", "prod", "app", std::nullopt, "", true, false, {}}, PromoteStatus::ImageUnknown, "ghost");
  check(spec("v2", true), PromoteStatus::OverwriteRefused, "v2");
  check(spec(std::nullopt, true), PromoteStatus::OverwriteRefused, "v2");
  // A source missing a layer (a remote's partial cache) or a child manifest.
  ASSERT_TRUE(store.unlinkBlob("dev", "app", dg("a")));
  check(spec("v1", true), PromoteStatus::Incomplete, dg("a").str());
  index("dev", "app", "idx", {"m1", "absent"}, "multi");
  auto out = store.promote(spec("multi", false));
  EXPECT_EQ(out->status, PromoteStatus::Incomplete);
  EXPECT_FALSE(hasManifest("prod", "app", "idx"));
}

TEST_F(LifecycleStoreTest, OverwriteWhenAllowed) {
  image("dev", "app", "m1", {"a"}, "v1");
  image("prod", "app", "p1", {"p"}, "v1");
  image("prod", "app", "m1", {"a"}, "same");
  auto p = spec("v1", false);
  p.allow_overwrite = true;
  auto out = store.promote(p);
  ASSERT_EQ(out->status, PromoteStatus::Done);
  EXPECT_EQ(out->overwritten, (std::vector<std::string>{"v1"}));
  EXPECT_EQ(**store.resolveTag("prod", "app", "v1"), dg("m1"));
  // The same manifest under the same tag is no overwrite.
  PromoteSpec again{"dev", "app", "prod", "app", "v1", "same", false, false, {}};
  out = store.promote(again);
  EXPECT_EQ(out->status, PromoteStatus::Done);
  EXPECT_TRUE(out->overwritten.empty());
}

TEST_F(LifecycleStoreTest, TagLimitRemovesTheOldestByPushOrder) {
  TagLimit limit{3, {"latest"}};
  image("dev", "app", "m0", {"l0"}, "latest", {}, limit);
  // Pushed within one second: the order is still exact.
  for (auto t : {"3", "1", "2"}) image("dev", "app", std::string("m") + t, {std::string("l") + t}, t, {}, limit);
  EXPECT_EQ(last_evicted, (std::vector<std::string>{"3"})) << "the oldest unprotected tag";
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"1", "2", "latest"}));
  EXPECT_FALSE(hasManifest("dev", "app", "m3")) << "its manifest went with it";
  EXPECT_FALSE(linked("dev", "app", "l3"));
  // Pushing an existing tag again makes it the newest.
  image("dev", "app", "m1", {"l1"}, "1", {}, limit);
  EXPECT_TRUE(last_evicted.empty());
  image("dev", "app", "m4", {"l4"}, "4", {}, limit);
  EXPECT_EQ(last_evicted, (std::vector<std::string>{"2"}));
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"1", "4", "latest"}));
}

TEST_F(LifecycleStoreTest, TagLimitKeepsAManifestAnotherTagNames) {
  TagLimit limit{2, {}};
  image("dev", "app", "m1", {"a"}, "x", {}, limit);
  image("dev", "app", "m1", {"a"}, "y", {}, limit);
  image("dev", "app", "m2", {"b"}, "z", {}, limit);
  EXPECT_EQ(last_evicted, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(hasManifest("dev", "app", "m1"));
  EXPECT_TRUE(linked("dev", "app", "a"));
}

TEST_F(LifecycleStoreTest, TagLimitNeverRemovesTheTagJustWritten) {
  TagLimit limit{1, {"latest"}};
  image("dev", "app", "m0", {"l0"}, "latest", {}, limit);
  image("dev", "app", "m1", {"l1"}, "v1", {}, limit);
  EXPECT_TRUE(last_evicted.empty()) << "only the protected tag and the new one are left";
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"latest", "v1"}));
  image("dev", "app", "m2", {"l2"}, "v2", {}, limit);
  EXPECT_EQ(last_evicted, (std::vector<std::string>{"v1"}));
}

TEST_F(LifecycleStoreTest, PromotionAppliesTheTargetsTagLimit) {
  TagLimit limit{2, {}};
  image("prod", "app", "p1", {"p1"}, "old1", {}, limit);
  image("prod", "app", "p2", {"p2"}, "old2", {}, limit);
  image("dev", "app", "m1", {"a"}, "v1");
  auto p = spec("v1", false);
  p.limit = limit;
  auto out = store.promote(p);
  ASSERT_EQ(out->status, PromoteStatus::Done);
  EXPECT_EQ(out->evicted, (std::vector<std::string>{"old1"}));
  EXPECT_EQ(tags("prod", "app"), (std::vector<std::string>{"old2", "v1"}));
  EXPECT_FALSE(hasManifest("prod", "app", "p1"));
}

TEST_F(LifecycleStoreTest, DeletingATagPrunesWhatNothingElseHolds) {
  image("dev", "app", "amd64", {"shared", "l-amd64"}, std::nullopt);
  image("dev", "app", "arm64", {"shared", "l-arm64"}, "arm");
  index("dev", "app", "idx", {"amd64", "arm64"}, "multi");
  image("dev", "app", "sig", {"sig-blob"}, std::nullopt, dg("idx").str());
  image("dev", "app", "loose", {"loose-blob"}, std::nullopt);  // pushed by digest: not a candidate
  EXPECT_FALSE(*store.deleteTagAndPrune("dev", "app", "nope"));
  EXPECT_TRUE(*store.deleteTagAndPrune("dev", "app", "multi"));
  EXPECT_FALSE(hasManifest("dev", "app", "idx"));
  EXPECT_FALSE(hasManifest("dev", "app", "sig")) << "a referrer of a removed manifest";
  EXPECT_FALSE(hasManifest("dev", "app", "amd64"));
  EXPECT_TRUE(hasManifest("dev", "app", "arm64")) << "still tagged";
  EXPECT_FALSE(linked("dev", "app", "l-amd64"));
  EXPECT_FALSE(linked("dev", "app", "sig-blob"));
  EXPECT_TRUE(linked("dev", "app", "shared")) << "arm64 references it";
  EXPECT_TRUE(hasManifest("dev", "app", "loose"));
  EXPECT_TRUE(*store.deleteTagAndPrune("dev", "app", "arm"));
  EXPECT_FALSE(linked("dev", "app", "shared"));
  EXPECT_TRUE(*store.imageExists("dev", "app")) << "the manifest pushed by digest is left";
}

TEST_F(LifecycleStoreTest, DeletingTheLastTagForgetsTheImage) {
  image("dev", "app", "m1", {"a"}, "v1");
  EXPECT_TRUE(*store.deleteTagAndPrune("dev", "app", "v1"));
  EXPECT_FALSE(*store.imageExists("dev", "app"));
}

TEST_F(LifecycleStoreTest, DeletingAnImageRemovesEverythingOfItOnly) {
  image("dev", "app", "m1", {"a"}, "v1");
  image("dev", "app", "m2", {"b"}, std::nullopt);
  ASSERT_TRUE(store.linkBlob("dev", "app", dg("orphan"), 1));
  image("dev", "app/sub", "m1", {"a"}, "v1");
  image("prod", "app", "m1", {"a"}, "v1");
  EXPECT_TRUE(*store.deleteImage("dev", "app"));
  EXPECT_FALSE(*store.imageExists("dev", "app"));
  EXPECT_FALSE(hasManifest("dev", "app", "m2"));
  EXPECT_FALSE(linked("dev", "app", "orphan"));
  EXPECT_EQ(tags("dev", "app/sub"), (std::vector<std::string>{"v1"}));
  EXPECT_EQ(tags("prod", "app"), (std::vector<std::string>{"v1"}));
  EXPECT_FALSE(*store.deleteImage("dev", "app"));
}

// What a local push asks: its references checked in the write's own transaction.
TEST_F(LifecycleStoreTest, AWriteRequiringItsReferencesWritesNothingWhenOneIsGone) {
  ASSERT_TRUE(store.linkBlob("dev", "app", dg("config"), 1));
  ManifestWrite w;
  w.record = {"dev", "app", dg("m"), "x", 1, "", "", "", 0};
  w.blobs = {dg("config"), dg("layer")};
  w.tag = "v1";
  w.require_references = true;
  auto out = store.putManifest(w);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->missing, dg("layer").str());
  EXPECT_FALSE(hasManifest("dev", "app", "m"));
  EXPECT_TRUE(tags("dev", "app").empty());
  w.blobs = {dg("config")};
  w.manifests = {dg("child")};
  EXPECT_EQ(store.putManifest(w)->missing, dg("child").str());
  w.manifests.clear();
  out = store.putManifest(w);
  EXPECT_TRUE(out->missing.empty());
  EXPECT_EQ(tags("dev", "app"), (std::vector<std::string>{"v1"}));
  w.blobs = {dg("layer")};
  w.require_references = false;  // a remote's cache
  EXPECT_TRUE(store.putManifest(w)->missing.empty());
}

TEST(MetadataStoreUpgrade, TagsTableWithoutSeqGetsOne) {
  TempDir dir;
  {
    SqliteDb db(dir / "metadata.db");
    ASSERT_TRUE(db.exec("CREATE TABLE tags(repo TEXT NOT NULL, name TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT "
                        "NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(repo, name, tag)) WITHOUT ROWID; "
                        "INSERT INTO tags VALUES('dev', 'app', 'old', '" +
                        dg("m").str() + "', 5)"));
  }
  SqliteMetadataStore store(dir / "metadata.db");
  EXPECT_EQ(**store.resolveTag("dev", "app", "old"), dg("m"));
  ManifestWrite w;
  w.record = {"dev", "app", dg("n"), "x", 1, "", "", "", 0};
  w.tag = "new";
  w.limit = {1, {}};
  auto out = store.putManifest(w);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->evicted, (std::vector<std::string>{"old"})) << "rows from before the upgrade are the oldest";
}

}  // namespace
}  // namespace berth::storage

#include "storage/tag_list_cache.h"

#include <gtest/gtest.h>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

using Tags = std::vector<std::string>;

TEST(TagListCache, PagesAfterLastFromTheHeldList) {
  TagListCache cache(100);
  cache.put("r/app", 3, {"a", "b", "c", "d"});
  auto p = cache.page("r/app", 3, "", 2);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->items, (Tags{"a", "b"}));
  EXPECT_TRUE(p->more);
  p = cache.page("r/app", 3, "b", 2);
  EXPECT_EQ(p->items, (Tags{"c", "d"}));
  EXPECT_FALSE(p->more);
  p = cache.page("r/app", 3, "bb", 10);  // `last` need not be a tag
  EXPECT_EQ(p->items, (Tags{"c", "d"}));
  p = cache.page("r/app", 3, "z", 10);
  EXPECT_TRUE(p->items.empty());
  EXPECT_FALSE(p->more);
}

TEST(TagListCache, AnotherVersionIsAMissAndDropsTheEntry) {
  TagListCache cache(100);
  cache.put("r/app", 3, {"a"});
  EXPECT_FALSE(cache.page("r/app", 4, "", 10));
  EXPECT_EQ(cache.tagsHeld(), 0u);
  EXPECT_FALSE(cache.page("r/other", 0, "", 10));
}

TEST(TagListCache, HoldsAtMostItsBoundEvictingTheLeastRecentlyUsed) {
  TagListCache cache(5);
  cache.put("a", 1, {"1", "2"});
  cache.put("b", 1, {"1", "2"});
  ASSERT_TRUE(cache.page("a", 1, "", 10));  // a is now the most recent
  cache.put("c", 1, {"1", "2"});            // evicts b
  EXPECT_TRUE(cache.page("a", 1, "", 10));
  EXPECT_FALSE(cache.page("b", 1, "", 10));
  EXPECT_TRUE(cache.page("c", 1, "", 10));
  EXPECT_EQ(cache.tagsHeld(), 4u);
  cache.put("huge", 1, {"1", "2", "3", "4", "5", "6"});  // larger than the bound: not held
  EXPECT_FALSE(cache.page("huge", 1, "", 10));
  EXPECT_LE(cache.tagsHeld(), 5u);
}

// A list too big to hold is remembered as such for its version, so its
// first page is not read in full from SQLite again and again (review: an image
// of over 256 Ki tags paid a 256 Ki-row read on every list).
TEST(TagListCache, RemembersAListTooBigForItsVersionOnly) {
  TagListCache cache(3);
  cache.put("huge", 7, {"1", "2", "3", "4"});
  EXPECT_TRUE(cache.knownTooBig("huge", 7));
  EXPECT_FALSE(cache.knownTooBig("huge", 8)) << "a tag changed: it may fit now";
  EXPECT_FALSE(cache.knownTooBig("other", 7));
  cache.noteTooBig("big", 1);
  EXPECT_TRUE(cache.knownTooBig("big", 1));
  cache.put("big", 2, {"1"});  // shrank below the bound
  EXPECT_FALSE(cache.knownTooBig("big", 1));
  EXPECT_TRUE(cache.page("big", 2, "", 10));
}

// The metadata store's lists stay right through every way a tag changes,
// including writes by another connection (another process) to the same file.
class TagListThroughStore : public ::testing::Test {
 protected:
  berth::testing::TempDir dir;
  SqliteMetadataStore store{dir / "metadata.db"};

  ManifestWrite write(const std::string& content, std::optional<std::string> tag) {
    ManifestWrite w;
    w.record.repo = "local";
    w.record.name = "app";
    w.record.digest = Sha256::of(content);
    w.record.media_type = "application/vnd.oci.image.manifest.v1+json";
    w.record.size = content.size();
    w.tag = std::move(tag);
    return w;
  }
  Tags all(SqliteMetadataStore& s) { return s.listTags("local", "app", "", 1000)->items; }
};

TEST_F(TagListThroughStore, ListsFollowPutsDeletesAndOtherConnections) {
  for (auto t : {"b", "a", "c"}) ASSERT_TRUE(store.putManifest(write("m", t)));
  EXPECT_EQ(all(store), (Tags{"a", "b", "c"}));
  EXPECT_EQ(store.listTags("local", "app", "a", 1)->items, (Tags{"b"}));  // from the held list
  ASSERT_TRUE(store.putManifest(write("m2", "d")));
  EXPECT_EQ(all(store), (Tags{"a", "b", "c", "d"}));
  ASSERT_TRUE(*store.deleteTag("local", "app", "b"));
  EXPECT_EQ(all(store), (Tags{"a", "c", "d"}));
  {
    SqliteMetadataStore other{dir / "metadata.db"};
    ASSERT_TRUE(other.putManifest(write("m3", "e")));
    ASSERT_TRUE(*other.deleteTag("local", "app", "a"));
  }
  EXPECT_EQ(all(store), (Tags{"c", "d", "e"})) << "a write by another connection is seen";
  ASSERT_TRUE(*store.deleteImage("local", "app"));
  EXPECT_TRUE(all(store).empty());
  ASSERT_TRUE(store.putManifest(write("m", "z")));
  EXPECT_EQ(all(store), (Tags{"z"})) << "an image deleted and pushed again";
}

TEST_F(TagListThroughStore, RetaggingToAnotherDigestKeepsTheListRight) {
  ASSERT_TRUE(store.putManifest(write("m", "a")));
  EXPECT_EQ(all(store), (Tags{"a"}));
  ASSERT_TRUE(store.putManifest(write("m2", "a")));
  EXPECT_EQ(all(store), (Tags{"a"}));
  EXPECT_EQ(**store.resolveTag("local", "app", "a"), Sha256::of("m2"));
}

}  // namespace
}  // namespace berth::storage

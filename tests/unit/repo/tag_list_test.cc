#include "repo/remote/tag_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::repo::remote {
namespace {

using Tags = std::vector<std::string>;

TEST(TagListTest, KeepsTheValidTagsOfTheTopLevelTagsArray) {
  auto page = parseTagList(
      R"({"name":"app","tags":["v1","latest",7,null,"not a tag","-bad",{"tags":["nested"]},["deep"],"v2"]})", 100,
      "up:1");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->items, (Tags{"v1", "latest", "v2"}));
  EXPECT_FALSE(page->more);
}

TEST(TagListTest, TagsElsewhereInTheDocumentAreNotTags) {
  auto page = parseTagList(R"({"meta":{"tags":["x"]},"other":["y"],"tags":["z"],"after":["w"]})", 100, "up:1");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items, (Tags{"z"}));
}

TEST(TagListTest, NullOrMissingTags) {
  auto none = parseTagList(R"({"name":"app","tags":null})", 100, "up:1");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  for (const char* bad : {R"({"name":"app"})", R"(["v1"])", R"("tags")", R"({"tags":["v1"])", "", "{\"tags\":[\"v1\"]} x"}) {
    auto page = parseTagList(bad, 100, "up:1");
    ASSERT_FALSE(page) << bad;
    EXPECT_EQ(page.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(page.error().message, "upstream up:1 sent an unreadable tag list");
  }
}

TEST(TagListTest, KeepsAtMostNAndSaysMoreFollow) {
  auto page = parseTagList(R"({"tags":["a","b","c","d"]})", 2, "up:1");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items, (Tags{"a", "b"}));
  EXPECT_TRUE(page->more);
}

TEST(TagListTest, ALargeListOfTinyTagsKeepsOnlyWhatWasAskedFor) {
  // Four bytes of JSON a tag: as a document this would be some 30 bytes each.
  std::string body = "{\"tags\":[";
  for (int i = 0; i < 500000; ++i) body += "\"a\",";
  body += "\"z\"]}";
  auto page = parseTagList(body, 10, "up:1");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 10u);
  EXPECT_TRUE(page->more);
}

}  // namespace
}  // namespace berth::repo::remote

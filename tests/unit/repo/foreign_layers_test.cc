#include "repo/remote/foreign_layers.h"

#include <gtest/gtest.h>

using berth::repo::remote::antMatch;
using berth::repo::remote::firstAllowedUrl;

TEST(ForeignLayersTest, AntPatterns) {
  EXPECT_TRUE(antMatch("**", "https://mcr.microsoft.com/v2/x/blobs/sha256:1"));
  EXPECT_TRUE(antMatch("**/mcr.microsoft.com/**", "https://mcr.microsoft.com/v2/x/blobs/sha256:1"));
  EXPECT_FALSE(antMatch("**/mcr.microsoft.com/**", "https://evil.example/mcr.microsoft.comx/y"));
  EXPECT_TRUE(antMatch("https://127.0.0.2:*/**", "https://127.0.0.2:8443/layers/a"));
  EXPECT_FALSE(antMatch("https://127.0.0.2:*/**", "https://127.0.0.3:8443/layers/a"));
  // One star stays within a segment.
  EXPECT_TRUE(antMatch("http://h/*/x", "http://h/a/x"));
  EXPECT_FALSE(antMatch("http://h/*/x", "http://h/a/b/x"));
  EXPECT_TRUE(antMatch("http://h/?/x", "http://h/a/x"));
  EXPECT_FALSE(antMatch("http://h/?/x", "http://h//x"));
  EXPECT_TRUE(antMatch("", ""));
  EXPECT_FALSE(antMatch("", "a"));
  EXPECT_TRUE(antMatch("a**", "a"));
}

TEST(ForeignLayersTest, FirstAllowedUrl) {
  std::vector<std::string> urls{"https://other.example/l", "https://mcr.microsoft.com/l"};
  EXPECT_EQ(firstAllowedUrl(urls, {"**/mcr.microsoft.com/**"}), "https://mcr.microsoft.com/l");
  EXPECT_EQ(firstAllowedUrl(urls, {"**/nowhere/**"}), "");
  EXPECT_EQ(firstAllowedUrl(urls, {}), "");
}

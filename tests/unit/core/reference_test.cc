#include "berth/core/reference.h"

#include <gtest/gtest.h>

namespace berth {

TEST(ImageName, AcceptsTheSpecGrammar) {
  for (const char* n : {"a", "alpine", "library/alpine", "a/b/c/d", "foo.bar", "foo_bar", "foo__bar", "foo---bar",
                        "0abc/x-y.z"})
    EXPECT_TRUE(isValidImageName(n)) << n;
}

TEST(ImageName, RefusesWhatTheGrammarRefuses) {
  for (const char* n : {"", "A", "-a", "a-", "a..b", "a___b", "a/", "/a", "a//b", "a/../b", "..", "a b", "a:b",
                        "a.-b"})
    EXPECT_FALSE(isValidImageName(n)) << n;
  EXPECT_FALSE(isValidImageName(std::string(256, 'a')));
}

TEST(Tag, Grammar) {
  EXPECT_TRUE(isValidTag("latest"));
  EXPECT_TRUE(isValidTag("_x.Y-1"));
  EXPECT_TRUE(isValidTag(std::string(128, 'a')));
  EXPECT_FALSE(isValidTag(std::string(129, 'a')));
  EXPECT_FALSE(isValidTag(".x"));
  EXPECT_FALSE(isValidTag("-x"));
  EXPECT_FALSE(isValidTag("a/b"));
  EXPECT_FALSE(isValidTag(""));
}

TEST(RepoKey, RefusesUnderscoresAndUppercase) {
  EXPECT_EQ(repoKeyProblem("docker-local"), "");
  EXPECT_EQ(repoKeyProblem("a.b-c9"), "");
  EXPECT_NE(repoKeyProblem("docker_local"), "");
  EXPECT_NE(repoKeyProblem("Docker"), "");
  EXPECT_NE(repoKeyProblem("-x"), "");
  EXPECT_NE(repoKeyProblem(""), "");
  EXPECT_NE(repoKeyProblem(std::string(65, 'a')), "");
}

TEST(Reference, TagOrDigest) {
  auto t = parseReference("v1.0");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->isDigest());
  auto d = parseReference("sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->isDigest());
  EXPECT_EQ(parseReference("bad/tag").error().code, ErrorCode::TagInvalid);
  EXPECT_EQ(parseReference("sha256:abc").error().code, ErrorCode::DigestInvalid);
}

TEST(Digest, OnlyWellFormedSha256) {
  EXPECT_TRUE(Digest::parse("sha256:" + std::string(64, '0')));
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(63, '0')));
  EXPECT_FALSE(Digest::parse("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(Digest::parse("nocolon"));
  EXPECT_TRUE(looksLikeDigest("sha512:abc"));
  EXPECT_FALSE(looksLikeDigest("sha256:"));
}

}  // namespace berth

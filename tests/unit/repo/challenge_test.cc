#include "repo/remote/challenge.h"

#include <gtest/gtest.h>

using berth::repo::remote::parseChallenge;

TEST(ChallengeTest, DockerHubBearer) {
  auto c = parseChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c->param("service"), "registry.docker.io");
  EXPECT_EQ(c->param("scope"), "repository:library/alpine:pull");
}

TEST(ChallengeTest, CaseSpacesTokensAndEscapes) {
  auto c = parseChallenge(R"(  BEARER   Realm = "http://127.0.0.1:1/t" , service=reg,error="a\"b" )");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->param("realm"), "http://127.0.0.1:1/t");
  EXPECT_EQ(c->param("service"), "reg");
  EXPECT_EQ(c->param("error"), "a\"b");
  EXPECT_EQ(c->param("scope"), "");
}

TEST(ChallengeTest, Basic) {
  auto c = parseChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_EQ(c->param("realm"), "Registry Realm");
}

TEST(ChallengeTest, Malformed) {
  EXPECT_FALSE(parseChallenge(""));
  EXPECT_FALSE(parseChallenge("   "));
  EXPECT_FALSE(parseChallenge(R"(Bearer realm="unterminated)"));
  // A scheme alone is a challenge without parameters.
  auto c = parseChallenge("Bearer");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->params.empty());
}

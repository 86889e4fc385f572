// Promotion on an open registry (docs/lifecycle.md): copy and move of a tag
// or a whole image, retag and rename, multi-arch indexes, a remote's cache as
// the source, the target's max_unique_tags, and every refusal changing
// nothing. Permissions: lifecycle_auth_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "integration/lifecycle_support.h"
#include "integration/support/fixture.h"
#include "integration/support/upstream_content.h"

namespace berth::it {
namespace {

using lifeit::expectGone;
using lifeit::expectPulls;
using lifeit::promote;
using nlohmann::json;

const std::vector<std::string> kLocals{"docker-local", "docker-dev", "docker-prod"};

DaemonOptions promoteOptions() {
  DaemonOptions o;
  o.repositories = kLocals;
  o.repository_extra = {{"docker-prod", "max_unique_tags: 2"}};
  o.repository_yaml = {
      "{key: docker, type: virtual, repositories: [docker-dev, docker-prod], default_deployment_repo: docker-prod}",
      "{key: hub, type: remote, url: \"http://127.0.0.1:9\", offline: true}",
  };
  return o;
}

class PromoteTest : public RegistryTest {
 protected:
  PromoteTest() : RegistryTest(promoteOptions()) {}
  ImageClient img(const std::string& key, const std::string& name = "app") { return image("/v2/" + key + "/" + name); }
  json state() { return lifeit::snapshot(http_, kLocals); }
};

TEST_F(PromoteTest, CopyATagWithoutCopyingBytes) {
  Image image = makeImage(mt::kOciManifest, 3);
  dev_.pushImage(image, "1.0");
  auto files = blobFiles();
  for (std::string family : {"", "/artifactory"}) {
    SCOPED_TRACE(family);
    auto r = promote(http_, "docker-dev",
                     {{"targetRepo", "docker-local"}, {"dockerRepository", "app"}, {"tag", "1.0"}, {"copy", true}}, {},
                     family);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.header("Content-Type").starts_with("application/json"));
    auto j = r.json();
    EXPECT_EQ(j["tags"], json::array({{{"tag", "1.0"}, {"digest", image.manifest.digest}}})) << r.body;
    EXPECT_EQ(j["manifests"], 1);
    EXPECT_EQ(j["blobs"], 4);
    EXPECT_EQ(j["copy"], true);
    expectPulls(local_, image, "1.0");
    expectPulls(dev_, image, "1.0");  // a copy leaves the source as it was
  }
  EXPECT_EQ(blobFiles(), files) << "no blob content is written";
}

TEST_F(PromoteTest, MoveIsTheDefaultAndTakesTheTagAlongWithWhatOnlyItHeld) {
  Image one = makeImage(), two = makeImage();
  dev_.pushImage(one, "1");
  dev_.pushImage(two, "2");
  auto r = promote(http_, "docker-dev", {{"targetRepo", "docker-prod"}, {"dockerRepository", "app"}, {"tag", "1"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["copy"], false);
  auto prod = img("docker-prod");
  expectPulls(prod, one, "1");
  EXPECT_EQ(dev_.getManifest("1").status, 404);
  expectGone(dev_, one);
  expectPulls(dev_, two, "2");
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"2"}));
}

TEST_F(PromoteTest, TheWholeImageRenamedAndRetagged) {
  Image one = makeImage(), two = makeImage();
  dev_.pushImage(one, "1");
  dev_.pushImage(two, "2");
  dev_.pushImage(two, "latest");
  auto r = promote(http_, "docker-dev",
                   {{"targetRepo", "docker-local"}, {"dockerRepository", "app"},
                    {"targetDockerRepository", "release/app"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  auto release = img("docker-local", "release/app");
  EXPECT_EQ(release.tags().json()["tags"], json::array({"1", "2", "latest"}));
  expectPulls(release, one, "1");
  expectPulls(release, two, "latest");
  EXPECT_EQ(dev_.tags().status, 404) << "moved away entirely";
  EXPECT_EQ(http_.get("/api/docker/docker-dev/v2/_catalog").json()["repositories"], json::array());
  // One tag, under another name, within the same repository.
  r = promote(http_, "docker-local",
              {{"targetRepo", "docker-local"}, {"dockerRepository", "release/app"}, {"tag", "2"},
               {"targetTag", "stable"}, {"copy", true}});
  ASSERT_EQ(r.status, 200) << r.describe();
  expectPulls(release, two, "stable");
  EXPECT_EQ(release.tags().json()["tags"], json::array({"1", "2", "latest", "stable"}));
}

TEST_F(PromoteTest, AMultiArchIndexBringsItsPlatforms) {
  MultiArch multi = makeMultiArch(mt::kOciIndex, 2, 2);
  pushMultiArch(dev_, multi, "multi");
  auto r = promote(http_, "docker-dev", {{"targetRepo", "docker-prod"}, {"dockerRepository", "app"}, {"tag", "multi"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["manifests"], 3);
  auto prod = img("docker-prod");
  auto index = prod.getManifest("multi");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.body, multi.index.bytes);
  for (const auto& platform : multi.images) {
    expectPulls(prod, platform, platform.manifest.digest);
    expectGone(dev_, platform);
  }
}

TEST_F(PromoteTest, TheTargetsMaxUniqueTagsApplies) {
  Image a = makeImage(), b = makeImage(), c = makeImage();
  auto prod = img("docker-prod");
  prod.pushImage(a, "a");
  prod.pushImage(b, "b");
  dev_.pushImage(c, "c");
  auto r = promote(http_, "docker-dev", {{"targetRepo", "docker-prod"}, {"dockerRepository", "app"}, {"tag", "c"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["removedTags"], json::array({"a"}));
  EXPECT_EQ(prod.tags().json()["tags"], json::array({"b", "c"}));
  expectGone(prod, a);
}

TEST_F(PromoteTest, OverwritingATagOnAnOpenRegistry) {
  Image mine = makeImage(), theirs = makeImage();
  dev_.pushImage(mine, "1");
  auto prod = img("docker-prod");
  prod.pushImage(theirs, "1");
  auto r = promote(http_, "docker-dev",
                   {{"targetRepo", "docker-prod"}, {"dockerRepository", "app"}, {"tag", "1"}, {"copy", true}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["overwrittenTags"], json::array({"1"}));
  expectPulls(prod, mine, "1");
}

TEST_F(PromoteTest, AnImageCalledPromoteIsStillAnImage) {
  Image image = makeImage();
  ImageClient named(http_, "/api/docker/docker-dev/v2/promote");
  named.pushImage(image, "1");
  expectPulls(named, image, "1");
  auto r = promote(http_, "docker-dev", {{"targetRepo", "docker-local"}, {"dockerRepository", "promote"}, {"tag", "1"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  auto there = img("docker-local", "promote");
  expectPulls(there, image, "1");
}

TEST_F(PromoteTest, RefusalsAreClearAndChangeNothing) {
  Image one = makeImage(), other = makeImage();
  dev_.pushImage(one, "1");
  img("docker-prod").pushImage(other, "1");
  const json before = state();
  ASSERT_EQ(before["docker-dev/app"]["1"], one.manifest.digest) << before.dump();
  ASSERT_EQ(before["docker-prod/app"]["1"], other.manifest.digest) << before.dump();
  const auto files = blobFiles();
  struct Case {
    std::string source;
    json body;
    int status;
    std::string code, message;
  };
  json ok{{"targetRepo", "docker-local"}, {"dockerRepository", "app"}, {"tag", "1"}};
  auto with = [&](json patch) {
    json b = ok;
    b.merge_patch(patch);
    return b;
  };
  std::vector<Case> cases{
      {"nope", ok, 404, "NAME_UNKNOWN", "repository key not known"},
      {"docker-dev", with({{"targetRepo", "nope"}}), 404, "NAME_UNKNOWN", "target repository 'nope' does not exist"},
      {"docker-dev", with({{"dockerRepository", "ghost"}}), 404, "NOT_FOUND", "tag '1' of image 'ghost' not found"},
      {"docker-dev", with({{"tag", nullptr}, {"dockerRepository", "ghost"}}), 404, "NOT_FOUND",
       "image 'ghost' not found"},
      {"docker-dev", with({{"tag", "2"}}), 404, "NOT_FOUND", "tag '2' of image 'app' not found"},
      {"docker-dev", with({{"targetRepo", "docker"}}), 400, "BAD_REQUEST",
       "'docker' is virtual: images are promoted into local repositories only (its default deployment repository "
       "is 'docker-prod')"},
      {"docker-dev", with({{"targetRepo", "hub"}}), 400, "BAD_REQUEST", "'hub' is remote"},
      {"docker", ok, 400, "BAD_REQUEST", "source repository 'docker' is virtual"},
      {"docker-dev", with({{"targetRepo", "docker-dev"}}), 400, "BAD_REQUEST", "the source and the target are the same"},
      {"docker-dev", with({{"targetRepo", nullptr}}), 400, "BAD_REQUEST", "targetRepo is required"},
      {"docker-dev", with({{"dockerRepository", nullptr}}), 400, "BAD_REQUEST", "dockerRepository is required"},
      {"docker-dev", with({{"copy", "yes"}}), 400, "BAD_REQUEST", "copy"},
      {"docker-dev", with({{"tag", nullptr}, {"targetTag", "x"}}), 400, "BAD_REQUEST", "targetTag needs tag"},
      {"docker-dev", with({{"targetDockerRepository", "Bad/Name"}}), 400, "NAME_INVALID", "invalid repository name"},
      {"docker-dev", with({{"targetTag", "-x"}}), 400, "TAG_INVALID", "invalid tag"},
      // Overwrites on an open registry are allowed; not so a move onto itself.
      {"docker-dev", with({{"targetRepo", "docker-dev"}, {"targetTag", "1"}}), 400, "BAD_REQUEST", "the same"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.source + " " + c.body.dump());
    auto r = promote(http_, c.source, c.body);
    EXPECT_API_ERROR(r, c.status, c.code);
    EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
  }
  auto raw = http_.post("/api/docker/docker-dev/v2/promote", "{not json", {{"Content-Type", "application/json"}});
  EXPECT_API_ERROR(raw, 400, "BAD_REQUEST");
  EXPECT_API_ERROR(http_.get("/api/docker/docker-dev/v2/promote"), 405, "UNSUPPORTED");
  EXPECT_EQ(state(), before);
  EXPECT_EQ(blobFiles(), files);
}

TEST_F(PromoteTest, PromotionsSurviveARestart) {
  Image image = makeImage();
  dev_.pushImage(image, "1");
  ASSERT_EQ(promote(http_, "docker-dev", {{"targetRepo", "docker-local"}, {"dockerRepository", "app"}, {"tag", "1"}})
                .status,
            200);
  crashAndRestart();
  expectPulls(local_, image, "1");
  EXPECT_EQ(dev_.getManifest("1").status, 404);
}

// A remote repository's cache may be the source; a partial cache is refused.
TEST(PromoteFromRemote, TheCacheIsASourceWhenItHoldsTheWholeImage) {
  Daemon upstream(DaemonOptions{{"docker-local"}});
  upstream.start();
  HttpClient up_http(upstream.host(), upstream.port());
  ImageClient up(up_http, "/v2/docker-local/app");
  Image full = makeImage(), partial = makeImage();
  up.pushImage(full, "full");
  up.pushImage(partial, "partial");

  DaemonOptions o;
  o.repositories = {"docker-local"};
  o.repository_yaml = {"{key: hub, type: remote, url: \"http://" + upstream.host() + ":" +
                       std::to_string(upstream.port()) + "\"}"};
  Daemon berth(o);
  berth.start();
  HttpClient http(berth.host(), berth.port());
  ImageClient cached(http, "/v2/hub/docker-local/app");
  expectPulls(cached, full, "full");
  ASSERT_EQ(cached.getManifest("partial").status, 200);  // the manifest only, no layer
  EXPECT_EQ(upstream.stop(), 0);
  // The cache links a blob just after its last byte went out: wait for the links.
  std::vector<const Blob*> blobs{&full.config};
  for (const auto& l : full.layers) blobs.push_back(&l);
  for (const Blob* b : blobs)
    for (int i = 0; i < 100 && cached.headBlob(b->digest).status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto r = promote(http, "hub",
                   {{"targetRepo", "docker-local"}, {"dockerRepository", "docker-local/app"},
                    {"targetDockerRepository", "app"}, {"tag", "partial"}, {"copy", true}});
  EXPECT_API_ERROR(r, 404, "NOT_FOUND");
  EXPECT_NE(r.body.find("cache holds only what was pulled"), std::string::npos) << r.body;
  EXPECT_EQ(http.get("/v2/docker-local/app/tags/list").status, 404) << "nothing was promoted";

  r = promote(http, "hub",
              {{"targetRepo", "docker-local"}, {"dockerRepository", "docker-local/app"},
               {"targetDockerRepository", "app"}, {"tag", "full"}, {"copy", true}});
  ASSERT_EQ(r.status, 200) << r.describe();
  ImageClient local(http, "/v2/docker-local/app");
  expectPulls(local, full, "full");
  finishDaemon(berth, http, ::testing::Test::HasFailure());
}

}  // namespace
}  // namespace berth::it

// Deletion through Artifactory's routes on an open registry (docs/lifecycle.md):
// DELETE /artifactory/<repoKey>/<image>/<tag> and /artifactory/<repoKey>/<image>,
// what they prune, and that the V2 API's deletes keep their behaviour.
// Permissions: lifecycle_auth_test.cc.
#include <gtest/gtest.h>

#include "integration/lifecycle_support.h"
#include "integration/support/fixture.h"
#include "integration/support/upstream_content.h"

namespace berth::it {
namespace {

using lifeit::expectGone;
using lifeit::expectPulls;
using nlohmann::json;

DaemonOptions deleteOptions() {
  DaemonOptions o;
  o.repositories = {"docker-local", "docker-dev"};
  o.repository_yaml = {
      "{key: docker, type: virtual, repositories: [docker-local, docker-dev], default_deployment_repo: docker-dev}",
      "{key: ro, type: virtual, repositories: [docker-dev]}"};
  return o;
}

class DeleteTest : public RegistryTest {
 protected:
  DeleteTest() : RegistryTest(deleteOptions()) {}
  Response del(const std::string& path) { return http_.del("/artifactory/" + path); }
  json state() { return lifeit::snapshot(http_, {"docker-local", "docker-dev"}); }
};

TEST_F(DeleteTest, ATagAndWhatOnlyItHeld) {
  Image one = makeImage(), two = makeImage();
  dev_.pushImage(one, "1");
  dev_.pushImage(two, "2");
  dev_.pushImage(two, "also-2");
  auto r = del("docker-dev/app/1");
  EXPECT_EQ(r.status, 204) << r.describe();
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"2", "also-2"}));
  expectGone(dev_, one);  // no tag or index named its manifest any more
  // A manifest another tag still names stays.
  EXPECT_EQ(del("docker-dev/app/2/").status, 204) << "a folder path, as Artifactory writes it";
  expectPulls(dev_, two, "also-2");
  EXPECT_API_ERROR(del("docker-dev/app/2"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(del("docker-dev/app/1"), 404, "NOT_FOUND");
}

TEST_F(DeleteTest, AnIndexTagTakesItsPlatformsAlong) {
  MultiArch multi = makeMultiArch(mt::kOciIndex, 2, 1);
  pushMultiArch(dev_, multi, "multi");
  dev_.putManifest("amd", multi.images[0].manifest);
  ASSERT_EQ(del("docker-dev/app/multi").status, 204);
  EXPECT_EQ(dev_.headManifest(multi.index.digest).status, 404);
  expectGone(dev_, multi.images[1]);
  expectPulls(dev_, multi.images[0], "amd");  // still tagged
}

TEST_F(DeleteTest, AnImageWithAllItsTags) {
  Image one = makeImage(), two = makeImage(), nested = makeImage();
  dev_.pushImage(one, "1");
  dev_.pushImage(two, "2");
  dev_.pushImage(makeImage());  // by digest only
  auto sub = image("/v2/docker-dev/app/sub");
  sub.pushImage(nested, "1");
  local_.pushImage(one, "1");
  EXPECT_EQ(del("docker-dev/app").status, 204);
  EXPECT_API_ERROR(dev_.tags(), 404, "NAME_UNKNOWN");
  expectGone(dev_, one);
  expectGone(dev_, two);
  expectPulls(sub, nested, "1");  // another image, though its name starts alike
  expectPulls(local_, one, "1");  // another repository
  EXPECT_EQ(http_.get("/api/docker/docker-dev/v2/_catalog").json()["repositories"], json::array({"app/sub"}));
  EXPECT_API_ERROR(del("docker-dev/app"), 404, "NOT_FOUND");
}

// "a/b/c" is tag c of image a/b and image a/b/c at once: one folder in
// Artifactory's tree, and both go.
TEST_F(DeleteTest, APathThatIsBothATagAndAnImage) {
  Image tagged = makeImage(), image_c = makeImage(), kept = makeImage();
  auto ab = image("/v2/docker-dev/a/b"), abc = image("/v2/docker-dev/a/b/c");
  ab.pushImage(tagged, "c");
  ab.pushImage(kept, "d");
  abc.pushImage(image_c, "1");
  EXPECT_EQ(del("docker-dev/a/b/c").status, 204);
  EXPECT_EQ(ab.tags().json()["tags"], json::array({"d"}));
  EXPECT_EQ(abc.tags().status, 404);
  expectPulls(ab, kept, "d");
}

TEST_F(DeleteTest, ThroughAVirtualRepositoryItsDeploymentRepository) {
  Image image_dev = makeImage(), image_local = makeImage();
  dev_.pushImage(image_dev, "1");
  local_.pushImage(image_local, "1");
  EXPECT_EQ(del("docker/app/1").status, 204);
  EXPECT_EQ(dev_.getManifest("1").status, 404);
  expectPulls(local_, image_local, "1");  // a member, not the deployment repository
  EXPECT_API_ERROR(del("ro/app"), 405, "UNSUPPORTED");
}

TEST_F(DeleteTest, RefusalsChangeNothing) {
  Image one = makeImage();
  dev_.pushImage(one, "1");
  const json before = state();
  ASSERT_EQ(before["docker-dev/app"]["1"], one.manifest.digest) << before.dump();
  EXPECT_API_ERROR(del("docker-dev/app/2"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(del("docker-dev/ghost"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(del("docker-dev/ap"), 404, "NOT_FOUND") << "a prefix of a name is not the image";
  EXPECT_API_ERROR(del("nope/app/1"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(del("docker-dev"), 400, "BAD_REQUEST") << "not a whole repository";
  EXPECT_API_ERROR(del("docker-dev/"), 400, "BAD_REQUEST");
  EXPECT_API_ERROR(del("docker-dev/App/1.0"), 400, "NAME_INVALID");
  EXPECT_API_ERROR(http_.get("/artifactory/docker-dev/app/1"), 405, "UNSUPPORTED");
  // Only under /artifactory: without it the path is no route at all.
  EXPECT_API_ERROR(http_.del("/docker-dev/app/1"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(http_.del("/artifactory/api/app/1"), 404, "NAME_UNKNOWN");
  EXPECT_EQ(state(), before);
  expectPulls(dev_, one, "1");
}

// The V2 API's deletes are unchanged: a tag alone, or a manifest with its tags.
TEST_F(DeleteTest, TheV2ApiKeepsItsBehaviour) {
  Image one = makeImage();
  dev_.pushImage(one, "1");
  dev_.pushImage(one, "2");
  EXPECT_EQ(dev_.deleteManifest("1").status, 202);
  expectPulls(dev_, one, "2");
  EXPECT_EQ(dev_.deleteManifest("2").status, 202);
  expectPulls(dev_, one, one.manifest.digest);  // by tag, the manifest stays
  EXPECT_EQ(dev_.deleteManifest(one.manifest.digest).status, 202);
  EXPECT_EQ(dev_.headManifest(one.manifest.digest).status, 404);
  EXPECT_EQ(dev_.getBlob(one.layers[0].digest).status, 200) << "blob links stay, as in registry:2";
}

TEST_F(DeleteTest, DeletionsSurviveACrash) {
  Image one = makeImage();
  dev_.pushImage(one, "1");
  local_.pushImage(one, "1");
  ASSERT_EQ(del("docker-dev/app/1").status, 204);
  ASSERT_EQ(del("docker-local/app").status, 204);
  crashAndRestart();
  expectGone(dev_, one);
  EXPECT_EQ(local_.tags().status, 404);
}

}  // namespace
}  // namespace berth::it

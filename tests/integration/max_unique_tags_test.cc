// max_unique_tags and protected_tags on a local repository (docs/lifecycle.md):
// a push beyond the limit removes the image's oldest tags by push time, with
// what only they held, in the same transaction as the tag write.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/lifecycle_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using lifeit::expectGone;
using lifeit::expectPulls;
using nlohmann::json;

DaemonOptions limitOptions() {
  DaemonOptions o;
  o.repositories = {"docker-local", "docker-dev"};
  o.log_level = "info";
  o.repository_extra = {{"docker-dev", "max_unique_tags: 3, protected_tags: [latest]"}};
  o.repository_yaml = {"{key: docker, type: virtual, repositories: [docker-dev], default_deployment_repo: docker-dev}"};
  return o;
}

class MaxUniqueTagsTest : public RegistryTest {
 protected:
  MaxUniqueTagsTest() : RegistryTest(limitOptions()) {}
};

TEST_F(MaxUniqueTagsTest, TheOldestTagsGoFirst) {
  std::vector<Image> images;
  for (int i = 0; i < 5; ++i) images.push_back(makeImage());
  dev_.pushImage(images[0], "latest");
  // Pushed quickly, within a second or two: the push order still decides.
  for (int i = 1; i < 5; ++i) dev_.pushImage(images[i], "v" + std::to_string(i));
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"latest", "v3", "v4"}));
  expectGone(dev_, images[1]);
  expectGone(dev_, images[2]);
  expectPulls(dev_, images[0], "latest");
  expectPulls(dev_, images[4], "v4");
  EXPECT_NE(daemon_.log().find("max_unique_tags 3 removed tags v1"), std::string::npos) << "logged";
  // Pushing an existing tag again makes it the newest.
  dev_.putManifest("v3", images[3].manifest);
  dev_.pushImage(images[1], "v5");
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"latest", "v3", "v5"}));
}

TEST_F(MaxUniqueTagsTest, ATagSharingAManifestKeepsIt) {
  Image shared = makeImage(), other = makeImage();
  dev_.pushImage(shared, "a");
  dev_.putManifest("b", shared.manifest);
  dev_.pushImage(other, "c");
  dev_.putManifest("d", other.manifest);
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"b", "c", "d"}));
  expectPulls(dev_, shared, "b");
}

TEST_F(MaxUniqueTagsTest, PerImageAndOnlyWhereConfigured) {
  auto other = image("/v2/docker-dev/other");
  for (int i = 0; i < 4; ++i) {
    dev_.pushImage(makeImage(), "app-" + std::to_string(i));
    other.pushImage(makeImage(), "other-" + std::to_string(i));
    local_.pushImage(makeImage(), "local-" + std::to_string(i));
  }
  EXPECT_EQ(dev_.tags().json()["tags"].size(), 3u);
  EXPECT_EQ(other.tags().json()["tags"].size(), 3u);
  EXPECT_EQ(local_.tags().json()["tags"].size(), 4u) << "docker-local has no limit";
}

TEST_F(MaxUniqueTagsTest, PushesThroughAVirtualRepositoryToo) {
  auto through = image("/v2/docker/app");
  for (int i = 0; i < 4; ++i) through.pushImage(makeImage(), std::to_string(i));
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"1", "2", "3"}));
}

TEST_F(MaxUniqueTagsTest, PushOrderSurvivesARestart) {
  for (auto t : {"c", "a", "b"}) dev_.pushImage(makeImage(), t);
  crashAndRestart();
  dev_.pushImage(makeImage(), "d");
  EXPECT_EQ(dev_.tags().json()["tags"], json::array({"a", "b", "d"})) << "c was pushed first";
}

TEST(MaxUniqueTagsConfig, RefusedOnARemoteRepository) {
  std::string dir = makeTempDir();
  writeFile(dir + "/berth.yml",
            "repositories:\n  - {key: hub, type: remote, url: \"http://127.0.0.1:9\", max_unique_tags: 3}\n");
  auto r = runBerth({"check-config", "--config", dir + "/berth.yml"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("max_unique_tags applies only to a local repository"), std::string::npos)
      << r.out << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::it

// Cross-repository blob mounts: POST ?mount=<digest>&from=<key>/<image>.
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class MountTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    blob_ = Blob::random(4000);
    ASSERT_EQ(local_.pushBlob(blob_.bytes).status, 201);
  }
  static void expectMounted(const ImageClient& target, const Response& r, const Blob& b) {
    EXPECT_EQ(r.status, 201) << r.describe();
    EXPECT_EQ(r.header("Location"), target.url() + "/blobs/" + b.digest);
    EXPECT_EQ(r.header("Docker-Content-Digest"), b.digest);
    auto got = target.getBlob(b.digest);
    EXPECT_EQ(got.status, 200) << got.describe();
    EXPECT_TRUE(got.body == b.bytes);
  }
  static void expectSession(const Response& r) {
    EXPECT_EQ(r.status, 202) << r.describe();
    EXPECT_FALSE(r.header("Docker-Upload-UUID").empty()) << r.describe();
    EXPECT_NE(r.header("Location").find("/blobs/uploads/"), std::string::npos) << r.describe();
    EXPECT_EQ(r.header("Range"), "0-0");
  }
  Blob blob_;
};

TEST_F(MountTest, FromAnotherRepositoryKey) {
  expectMounted(dev_, dev_.mount(blob_.digest, "docker-local/app"), blob_);
  EXPECT_EQ(blobFiles().size(), 1u);
}

TEST_F(MountTest, FromAnotherImageOfTheSameKey) {
  ImageClient other = image("/v2/docker-local/team/other");
  expectMounted(other, other.mount(blob_.digest, "docker-local/app"), blob_);
}

TEST_F(MountTest, MountedBlobStaysWhenTheSourceDeletesIt) {
  ASSERT_EQ(dev_.mount(blob_.digest, "docker-local/app").status, 201);
  ASSERT_EQ(local_.deleteBlob(blob_.digest).status, 202);
  EXPECT_EQ(dev_.getBlob(blob_.digest).body, blob_.bytes);
}

TEST_F(MountTest, SourceWithoutTheBlobGivesAnUploadSession) {
  expectSession(dev_.mount(blob_.digest, "docker-dev/other"));  // that image never linked it
  expectSession(dev_.mount(sha256Of("unknown"), "docker-local/app"));
  EXPECT_EQ(dev_.headBlob(blob_.digest).status, 404);
}

TEST_F(MountTest, UnknownSourceGivesAnUploadSession) {
  expectSession(dev_.mount(blob_.digest, "nosuch/app"));
  expectSession(dev_.mount(blob_.digest, "docker-local/UPPER"));
  expectSession(dev_.mount(blob_.digest, ""));
  expectSession(dev_.mount("sha256:bad", "docker-local/app"));
  EXPECT_EQ(dev_.headBlob(blob_.digest).status, 404);
}

TEST_F(MountTest, TheFallbackSessionWorksForAPush) {
  auto r = dev_.mount(blob_.digest, "docker-dev/other");
  ASSERT_EQ(r.status, 202) << r.describe();
  r = dev_.finishUpload(r.header("Location"), blob_.digest, blob_.bytes);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(dev_.getBlob(blob_.digest).body, blob_.bytes);
}

TEST_F(MountTest, UnderTheArtifactoryRoutesFromMayNameAnImageOfTheSameKey) {
  ImageClient other = image("/artifactory/api/docker/docker-local/v2/other");
  expectMounted(other, other.mount(blob_.digest, "app"), blob_);
  ImageClient api = image("/api/docker/docker-dev/v2/app");
  expectMounted(api, api.mount(blob_.digest, "docker-local/app"), blob_);
}

}  // namespace
}  // namespace berth::it

// Manifests: every supported type by tag and by digest, the checks on PUT,
// exact bytes on GET/HEAD, and DELETE by tag and by digest.
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class ManifestsTest : public RegistryTest {
 protected:
  // GET and HEAD of reference return these exact bytes, type and digest.
  void expectServed(const ImageClient& img, const std::string& reference, const Manifest& m) {
    SCOPED_TRACE(img.url() + "/manifests/" + reference);
    auto get = img.getManifest(reference);
    EXPECT_EQ(get.status, 200) << get.describe();
    EXPECT_TRUE(get.body == m.bytes) << "stored bytes differ:\n" << get.body;
    EXPECT_EQ(get.header("Content-Type"), m.media_type);
    EXPECT_EQ(get.header("Docker-Content-Digest"), m.digest);
    EXPECT_EQ(get.header("Content-Length"), std::to_string(m.bytes.size()));
    auto head = img.headManifest(reference);
    EXPECT_EQ(head.status, 200) << head.describe();
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.header("Content-Type"), m.media_type);
    EXPECT_EQ(head.header("Docker-Content-Digest"), m.digest);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(m.bytes.size()));
  }
  static void expectCreated(const ImageClient& img, const Response& r, const Manifest& m) {
    EXPECT_EQ(r.status, 201) << r.describe();
    EXPECT_EQ(r.header("Docker-Content-Digest"), m.digest);
    EXPECT_EQ(r.header("Location"), img.url() + "/manifests/" + m.digest);
  }
  void pushBlobsOf(const Image& image) {
    for (const Blob* b : {&image.config, &image.layers[0], &image.layers[1]})
      ASSERT_EQ(local_.pushBlob(b->bytes).status, 201);
  }
};

class ImageManifestTest : public ManifestsTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ImageManifestTest, PutByTagServesByTagAndDigest) {
  Image image = makeImage(GetParam());
  pushBlobsOf(image);
  expectCreated(local_, local_.putManifest("v1.0", image.manifest), image.manifest);
  expectServed(local_, "v1.0", image.manifest);
  expectServed(local_, image.manifest.digest, image.manifest);
}

TEST_P(ImageManifestTest, PutByDigestServesByDigest) {
  Image image = makeImage(GetParam());
  pushBlobsOf(image);
  expectCreated(local_, local_.putManifest(image.manifest.digest, image.manifest), image.manifest);
  expectServed(local_, image.manifest.digest, image.manifest);
}

INSTANTIATE_TEST_SUITE_P(Types, ImageManifestTest, ::testing::Values(mt::kDockerManifest, mt::kOciManifest),
                         [](const auto& info) { return info.param == mt::kOciManifest ? "Oci" : "DockerV2"; });

class IndexManifestTest : public ManifestsTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(IndexManifestTest, PutByTagAndDigestOnceTheChildrenArePushed) {
  const bool docker = GetParam() == mt::kDockerList;
  Image a = makeImage(docker ? mt::kDockerManifest : mt::kOciManifest);
  Image b = makeImage(docker ? mt::kDockerManifest : mt::kOciManifest);
  local_.pushImage(a);
  local_.pushImage(b);
  Manifest index = makeIndex({a.manifest, b.manifest}, GetParam());
  expectCreated(local_, local_.putManifest("multi", index), index);
  expectServed(local_, "multi", index);
  expectServed(local_, index.digest, index);
  Manifest again = makeIndex({b.manifest}, GetParam());
  expectCreated(local_, local_.putManifest(again.digest, again), again);
  expectServed(local_, again.digest, again);
}

TEST_P(IndexManifestTest, ChildNotInThisRepositoryIsManifestBlobUnknown) {
  Image a = makeImage(), b = makeImage();
  local_.pushImage(a);
  dev_.pushImage(b);  // pushed, but to another repository
  Manifest index = makeIndex({a.manifest, b.manifest}, GetParam());
  EXPECT_API_ERROR(local_.putManifest("multi", index), 400, "MANIFEST_BLOB_UNKNOWN");
  EXPECT_API_ERROR(local_.getManifest("multi"), 404, "MANIFEST_UNKNOWN");
  Manifest missing = makeIndex({makeImage().manifest}, GetParam());
  EXPECT_API_ERROR(local_.putManifest(missing.digest, missing), 400, "MANIFEST_BLOB_UNKNOWN");
}

INSTANTIATE_TEST_SUITE_P(Types, IndexManifestTest, ::testing::Values(mt::kDockerList, mt::kOciIndex),
                         [](const auto& info) { return info.param == mt::kOciIndex ? "OciIndex" : "DockerList"; });

TEST_F(ManifestsTest, ArtifactWithSubjectAnswersOciSubject) {
  Image subject = makeImage();
  local_.pushImage(subject, "latest");
  Image sig = makeArtifact("application/vnd.example.signature", subject.manifest);
  ASSERT_EQ(local_.pushBlob(sig.config.bytes).status, 201);
  ASSERT_EQ(local_.pushBlob(sig.layers[0].bytes).status, 201);
  auto r = local_.putManifest(sig.manifest.digest, sig.manifest);
  expectCreated(local_, r, sig.manifest);
  EXPECT_EQ(r.header("OCI-Subject"), subject.manifest.digest);
  expectServed(local_, sig.manifest.digest, sig.manifest);
}

TEST_F(ManifestsTest, ArtifactWhoseSubjectIsNotPushedIsAccepted) {
  // The spec allows a referrer to arrive before its subject.
  Image sig = makeArtifact("application/vnd.example.sbom", makeImage().manifest);
  ASSERT_EQ(local_.pushBlob(sig.config.bytes).status, 201);
  ASSERT_EQ(local_.pushBlob(sig.layers[0].bytes).status, 201);
  auto r = local_.putManifest(sig.manifest.digest, sig.manifest);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_FALSE(r.header("OCI-Subject").empty());
}

TEST_F(ManifestsTest, ManifestWithoutSubjectHasNoOciSubjectHeader) {
  Image image = makeImage();
  pushBlobsOf(image);
  auto r = local_.putManifest("latest", image.manifest);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_FALSE(r.headers.has("OCI-Subject"));
}

TEST_F(ManifestsTest, MissingLayerOrConfigIsManifestBlobUnknown) {
  Image image = makeImage();
  ASSERT_EQ(local_.pushBlob(image.config.bytes).status, 201);
  ASSERT_EQ(local_.pushBlob(image.layers[0].bytes).status, 201);
  EXPECT_API_ERROR(local_.putManifest("latest", image.manifest), 400, "MANIFEST_BLOB_UNKNOWN");  // layer 1
  Image no_config = makeImage(mt::kOciManifest, 1);
  ASSERT_EQ(local_.pushBlob(no_config.layers[0].bytes).status, 201);
  EXPECT_API_ERROR(local_.putManifest("latest", no_config.manifest), 400, "MANIFEST_BLOB_UNKNOWN");
  EXPECT_API_ERROR(local_.getManifest("latest"), 404, "MANIFEST_UNKNOWN");
}

TEST_F(ManifestsTest, BlobsLinkedOnlyInAnotherRepositoryDoNotCount) {
  Image image = makeImage();
  dev_.pushImage(image, "latest");
  EXPECT_API_ERROR(local_.putManifest("latest", image.manifest), 400, "MANIFEST_BLOB_UNKNOWN");
}

TEST_F(ManifestsTest, InvalidJsonIsManifestInvalid) {
  for (const char* body : {"{not json", "", "[]", "42", "{\"schemaVersion\": 2, \"config\": 7, \"layers\": []}"}) {
    SCOPED_TRACE(body);
    EXPECT_API_ERROR(local_.putManifest("latest", body, mt::kOciManifest), 400, "MANIFEST_INVALID");
  }
}

TEST_F(ManifestsTest, SchemaOneIsRefused) {
  nlohmann::json doc{{"schemaVersion", 1}, {"name", "app"}, {"tag", "latest"}, {"architecture", "amd64"},
                     {"fsLayers", nlohmann::json::array()}, {"history", nlohmann::json::array()}};
  EXPECT_API_ERROR(local_.putManifest("latest", doc.dump(), mt::kDockerSchema1), 400, "MANIFEST_INVALID");
  EXPECT_API_ERROR(local_.putManifest("latest", doc.dump(), "application/json"), 400, "MANIFEST_INVALID");
}

TEST_F(ManifestsTest, PutByDigestOfOtherBytesIsDigestInvalid) {
  Image image = makeImage();
  pushBlobsOf(image);
  auto r = local_.putManifest(sha256Of("other bytes"), image.manifest);
  EXPECT_API_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_API_ERROR(local_.getManifest(image.manifest.digest), 404, "MANIFEST_UNKNOWN");
}

TEST_F(ManifestsTest, TagCanBeMovedAndShared) {
  Image a = makeImage(), b = makeImage();
  local_.pushImage(a, "latest");
  local_.pushImage(b, "v2");
  ASSERT_EQ(local_.putManifest("stable", a.manifest).status, 201);
  expectServed(local_, "stable", a.manifest);
  ASSERT_EQ(local_.putManifest("latest", b.manifest).status, 201);  // move the tag
  expectServed(local_, "latest", b.manifest);
  expectServed(local_, "stable", a.manifest);
  expectServed(local_, a.manifest.digest, a.manifest);
}

TEST_F(ManifestsTest, DeleteByTagRemovesOnlyTheTag) {
  Image image = makeImage();
  local_.pushImage(image, "latest");
  ASSERT_EQ(local_.putManifest("other", image.manifest).status, 201);
  auto r = local_.deleteManifest("latest");
  EXPECT_EQ(r.status, 202) << r.describe();
  EXPECT_API_ERROR(local_.getManifest("latest"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(local_.headManifest("latest").status, 404);
  expectServed(local_, image.manifest.digest, image.manifest);
  expectServed(local_, "other", image.manifest);
  EXPECT_API_ERROR(local_.deleteManifest("latest"), 404, "MANIFEST_UNKNOWN");
}

TEST_F(ManifestsTest, DeleteByDigestRemovesTheManifestAndItsTags) {
  Image image = makeImage();
  local_.pushImage(image, "latest");
  ASSERT_EQ(local_.putManifest("v1", image.manifest).status, 201);
  auto r = local_.deleteManifest(image.manifest.digest);
  EXPECT_EQ(r.status, 202) << r.describe();
  for (const std::string& ref : {image.manifest.digest, std::string("latest"), std::string("v1")}) {
    SCOPED_TRACE(ref);
    EXPECT_API_ERROR(local_.getManifest(ref), 404, "MANIFEST_UNKNOWN");
    EXPECT_EQ(local_.headManifest(ref).status, 404);
  }
  EXPECT_API_ERROR(local_.deleteManifest(image.manifest.digest), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(local_.headBlob(image.layers[0].digest).status, 200);  // layers stay linked
}

TEST_F(ManifestsTest, DeleteInOneRepositoryLeavesTheOther) {
  Image image = makeImage();
  local_.pushImage(image, "latest");
  dev_.pushImage(image, "latest");
  ASSERT_EQ(local_.deleteManifest(image.manifest.digest).status, 202);
  expectServed(dev_, "latest", image.manifest);
}

TEST_F(ManifestsTest, UnknownTagOrDigestIsManifestUnknown) {
  EXPECT_API_ERROR(local_.getManifest("nope"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(local_.getManifest(sha256Of("nope")), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(local_.headManifest("nope").status, 404);
  Image image = makeImage();
  local_.pushImage(image, "latest");
  EXPECT_API_ERROR(local_.getManifest("nope"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(dev_.getManifest("latest"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(dev_.getManifest(image.manifest.digest), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(local_.getManifest(image.config.digest), 404, "MANIFEST_UNKNOWN");  // a blob is no manifest
}

TEST_F(ManifestsTest, ContentTypeMustAgreeWithMediaType) {
  Image image = makeImage(mt::kOciManifest);
  pushBlobsOf(image);
  EXPECT_API_ERROR(local_.putManifest("latest", image.manifest.bytes, mt::kDockerManifest), 400, "MANIFEST_INVALID");
}

}  // namespace
}  // namespace berth::it

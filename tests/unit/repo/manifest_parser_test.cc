#include "repo/manifest_parser.h"

#include <gtest/gtest.h>

#include "berth/core/media_types.h"
#include "berth/core/sha256.h"

namespace berth::repo {
namespace {

std::string d(const std::string& s) { return Sha256::of(s).str(); }
std::string desc(const std::string& mt, const std::string& content, int64_t size = 10) {
  return R"({"mediaType":")" + mt + R"(","digest":")" + d(content) + R"(","size":)" + std::to_string(size) + "}";
}

TEST(ManifestParser, DockerSchema2ListsConfigAndLayers) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":)" +
                  desc("application/vnd.docker.container.image.v1+json", "c") + R"(,"layers":[)" +
                  desc("application/vnd.docker.image.rootfs.diff.tar.gzip", "l1") + "," +
                  desc("application/vnd.docker.image.rootfs.diff.tar.gzip", "l2", 5000000000) + "]}";
  auto p = parseManifest(std::string(media::kDockerManifest), m);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->media_type, media::kDockerManifest);
  ASSERT_EQ(p->blobs.size(), 3u);
  EXPECT_EQ(p->blobs[0].str(), d("c"));
  // The descriptors' sizes, beside them (a remote repository holds a fetch to them).
  EXPECT_EQ(p->blob_sizes, (std::vector<uint64_t>{10, 10, 5000000000}));
}

TEST(ManifestParser, OciIndexListsChildren) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
                  desc("application/vnd.oci.image.manifest.v1+json", "m1") + "]}";
  auto p = parseManifest("", m);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->manifests.size(), 1u);
  EXPECT_TRUE(p->blobs.empty());
}

TEST(ManifestParser, ArtifactTypeSubjectAndAnnotations) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sig","config":)" +
                  desc("application/vnd.oci.empty.v1+json", "{}", 2) + R"(,"layers":[],"subject":)" +
                  desc("application/vnd.oci.image.manifest.v1+json", "target") + R"(,"annotations":{"a":"b"}})";
  auto p = parseManifest(std::string(media::kOciManifest), m);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->artifact_type, "application/x-sig");
  EXPECT_EQ(p->subject, d("target"));
  EXPECT_EQ(p->annotations, R"({"a":"b"})");
}

TEST(ManifestParser, ArtifactTypeFallsBackToConfigMediaType) {
  std::string m = R"({"schemaVersion":2,"config":)" + desc("application/x-config", "c") + R"(,"layers":[]})";
  auto p = parseManifest("", m);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->media_type, media::kOciManifest) << "OCI allows omitting mediaType";
  EXPECT_EQ(p->artifact_type, "application/x-config");
}

TEST(ManifestParser, ForeignLayersNeedNotBePresent) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":)" +
                  desc("application/vnd.docker.container.image.v1+json", "c") +
                  R"(,"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")" +
                  d("f") + R"(","size":5,"urls":["https://example.invalid/f"]}]})";
  auto p = parseManifest("", m);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->blobs.size(), 1u);
}

TEST(ManifestParser, RefusesBadInput) {
  auto code = [](const std::string& ct, const std::string& body) {
    auto p = parseManifest(ct, body);
    return p ? std::string("ok") : std::string(errorCodeName(p.error().code));
  };
  EXPECT_EQ(code("", "not json"), "MANIFEST_INVALID");
  EXPECT_EQ(code("", "[]"), "MANIFEST_INVALID");
  EXPECT_EQ(code("", R"({"schemaVersion":1,"name":"x","fsLayers":[]})"), "MANIFEST_INVALID");
  EXPECT_EQ(code(std::string(media::kDockerSchema1Signed), R"({"schemaVersion":2})"), "MANIFEST_INVALID");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"mediaType":"application/x-unknown","config":{}})"), "MANIFEST_INVALID");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]})"), "MANIFEST_INVALID");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"config":)" + desc("x", "c", -1) + R"(,"layers":[]})"), "MANIFEST_INVALID");
  EXPECT_EQ(code(std::string(media::kDockerManifest),
                 R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                     desc("x", "c") + R"(,"layers":[]})"),
            "MANIFEST_INVALID")
      << "Content-Type and mediaType disagree";
}

// Regression: annotations holding an array nested a million levels deep
// killed the daemon (dump() recursed without limit).
TEST(ManifestParser, DeeplyNestedAnnotationsAreRefusedNotCrashed) {
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                  desc("application/vnd.oci.empty.v1+json", "{}", 2) + R"(,"layers":[],"annotations":{"a":)" + deep +
                  "}}";
  auto p = parseManifest("", m);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::ManifestInvalid);
}

TEST(ManifestParser, AnnotationsMustMapStringsToStrings) {
  for (const char* bad : {R"({"a":1})", R"({"a":{"b":"c"}})", R"({"a":["x"]})", R"(["a"])"}) {
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                    desc("application/vnd.oci.empty.v1+json", "{}", 2) + R"(,"layers":[],"annotations":)" + bad + "}";
    auto p = parseManifest("", m);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().code, ErrorCode::ManifestInvalid);
  }
}

TEST(ManifestParser, WrongTypesAreInvalidNotThrown) {
  const std::string cfg = desc("application/vnd.oci.empty.v1+json", "{}", 2);
  for (const std::string& m : std::vector<std::string>{
           std::string(R"({"schemaVersion":2,"mediaType":5,"config":)") + cfg + R"(,"layers":[]})",
           R"({"schemaVersion":2,"config":)" + cfg + R"(,"layers":[5]})",
           R"({"schemaVersion":2,"config":{"digest":5,"size":1},"layers":[]})",
           R"({"schemaVersion":2,"config":{"digest":"sha256:x","size":"1"},"layers":[]})",
           R"({"schemaVersion":2,"config":)" + cfg + R"(,"layers":[],"subject":"x"})",
           R"({"schemaVersion":99999999999999999999,"config":)" + cfg + R"(,"layers":[]})",
           R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}})",
       }) {
    auto p = parseManifest("", m);
    EXPECT_FALSE(p) << m;
  }
}

}  // namespace
}  // namespace berth::repo

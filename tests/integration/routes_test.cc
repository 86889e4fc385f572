// The three URL families address the same repositories, and every Location
// and Link keeps the family the client used:
//   /v2/<key>/<image>/...   /artifactory/api/docker/<key>/v2/<image>/...   /api/docker/<key>/v2/<image>/...
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

struct Family {
  const char* name;
  std::string (*base)(const std::string& key);  // up to the image name, without it
  bool name_has_key;                            // tags/list "name" is "<key>/<image>"
};

const Family kFamilies[] = {
    {"V2", [](const std::string& key) { return "/v2/" + key; }, true},
    {"Artifactory", [](const std::string& key) { return "/artifactory/api/docker/" + key + "/v2"; }, false},
    {"Api", [](const std::string& key) { return "/api/docker/" + key + "/v2"; }, false},
};

class RoutesTest : public RegistryTest, public ::testing::WithParamInterface<Family> {
 protected:
  std::string url(const std::string& image_name, const std::string& key = "docker-local") const {
    return GetParam().base(key) + "/" + image_name;
  }
};

void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

TEST_P(RoutesTest, BaseEndpoint) {
  const bool v2 = std::string(GetParam().name) == "V2";
  auto r = http_.get(v2 ? "/v2/" : GetParam().base("docker-local") + "/");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json(), nlohmann::json::object());
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  if (!v2) {
    EXPECT_EQ(http_.get(GetParam().base("docker-local")).status, 200);
    EXPECT_API_ERROR(http_.get(GetParam().base("nosuch") + "/"), 404, "NAME_UNKNOWN");
  }
}

TEST_P(RoutesTest, ErrorsAreTheSame) {
  EXPECT_API_ERROR(http_.get(GetParam().base("nosuch") + "/app/tags/list"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(http_.get(url("UPPER") + "/tags/list"), 400, "NAME_INVALID");
  EXPECT_API_ERROR(http_.post(url("app") + "/manifests/latest", "{}"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.get(url("app") + "/blobs/" + sha256Of("x")), 404, "BLOB_UNKNOWN");
}

TEST_P(RoutesTest, MonolithicUploadLocationKeepsTheFamily) {
  ImageClient img = image(url("team/app"));
  Blob b = Blob::random(100);
  auto r = img.pushBlob(b.bytes);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Location"), url("team/app") + "/blobs/" + b.digest);
  EXPECT_EQ(http_.get(r.header("Location")).body, b.bytes);
}

TEST_P(RoutesTest, SessionLocationsKeepTheFamily) {
  ImageClient img = image(url("app"));
  auto r = img.startUpload();
  EXPECT_EQ(r.status, 202) << r.describe();
  const std::string prefix = url("app") + "/blobs/uploads/";
  EXPECT_TRUE(r.header("Location").starts_with(prefix)) << r.header("Location");
  r = img.patchChunk(r.header("Location"), "hello");
  EXPECT_EQ(r.status, 202) << r.describe();
  EXPECT_TRUE(r.header("Location").starts_with(prefix)) << r.header("Location");
  r = http_.get(r.header("Location"));
  EXPECT_EQ(r.status, 204) << r.describe();
  EXPECT_TRUE(r.header("Location").starts_with(prefix)) << r.header("Location");
  r = img.finishUpload(r.header("Location"), sha256Of("hello world"), " world");
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Location"), url("app") + "/blobs/" + sha256Of("hello world"));
}

TEST_P(RoutesTest, ManifestLocationKeepsTheFamily) {
  ImageClient img = image(url("app"));
  Image image = makeImage();
  for (const Blob* b : {&image.config, &image.layers[0], &image.layers[1]}) ASSERT_EQ(img.pushBlob(b->bytes).status, 201);
  auto r = img.putManifest("latest", image.manifest);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Location"), url("app") + "/manifests/" + image.manifest.digest);
  EXPECT_EQ(http_.get(r.header("Location")).body, image.manifest.bytes);
}

TEST_P(RoutesTest, AllFamiliesSeeTheSameRepository) {
  Image image = makeImage();
  ImageClient(http_, url("shared/app")).pushImage(image, "latest");
  for (const auto& other : kFamilies) {
    ImageClient there(http_, other.base("docker-local") + "/shared/app");
    SCOPED_TRACE(there.url());
    EXPECT_EQ(there.getManifest("latest").body, image.manifest.bytes);
    EXPECT_EQ(there.getBlob(image.layers[1].digest).body, image.layers[1].bytes);
    EXPECT_EQ(there.tags().json()["tags"], nlohmann::json({"latest"}));
    EXPECT_EQ(ImageClient(http_, other.base("docker-dev") + "/shared/app").headBlob(image.config.digest).status, 404);
  }
}

TEST_P(RoutesTest, UploadStartedInOneFamilyContinuesInAnother) {
  auto r = image(url("app")).startUpload();
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string uuid = r.header("Docker-Upload-UUID");
  std::size_t self = 0;
  while (std::string(kFamilies[self].name) != GetParam().name) ++self;
  const std::string other = kFamilies[(self + 1) % 3].base("docker-local");
  r = local_.finishUpload(other + "/app/blobs/uploads/" + uuid, sha256Of("abc"), "abc");
  EXPECT_EQ(r.status, 201) << r.describe();
}

TEST_P(RoutesTest, TagsListNameAndLinkKeepTheFamily) {
  ImageClient img = image(url("team/app"));
  Image image = makeImage();
  img.pushImage(image, "a");
  ASSERT_EQ(img.putManifest("b", image.manifest).status, 201);
  auto r = img.tags("n=1");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["name"], GetParam().name_has_key ? "docker-local/team/app" : "team/app");
  EXPECT_EQ(r.header("Link"), "<" + url("team/app") + "/tags/list?last=a&n=1>; rel=\"next\"");
  r = http_.get(r.header("Link").substr(1, r.header("Link").find('>') - 1));
  EXPECT_EQ(r.json()["tags"], nlohmann::json({"b"})) << r.describe();
}

TEST_P(RoutesTest, ReferrersAnswerInEveryFamily) {
  ImageClient img = image(url("app"));
  Image subject = makeImage();
  img.pushImage(subject, "latest");
  Image sig = makeArtifact("application/vnd.example.sig", subject.manifest);
  img.pushImage(sig);
  auto r = img.referrers(subject.manifest.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["manifests"].size(), 1u) << r.body;
}

INSTANTIATE_TEST_SUITE_P(Families, RoutesTest, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return std::string(info.param.name); });

using PrefixTest = RegistryTest;

TEST_F(PrefixTest, GlobalCatalogIsOnlyUnderV2) {
  image("/v2/docker-local/app").pushImage(makeImage(), "latest");
  EXPECT_EQ(http_.get("/v2/_catalog").json()["repositories"], nlohmann::json({"docker-local/app"}));
  EXPECT_EQ(http_.get("/api/docker/docker-local/v2/_catalog").json()["repositories"], nlohmann::json({"app"}));
  EXPECT_EQ(http_.get("/api/docker/docker-dev/v2/_catalog").json()["repositories"], nlohmann::json::array());
}

TEST_F(PrefixTest, RepositoryKeyIsTheFirstSegmentOnly) {
  // /v2/docker-local/docker-dev/app is image "docker-dev/app" in docker-local.
  ImageClient nested = image("/v2/docker-local/docker-dev/app");
  nested.pushImage(makeImage(), "latest");
  EXPECT_EQ(dev_.headManifest("latest").status, 404);
  EXPECT_EQ(image("/api/docker/docker-local/v2/docker-dev/app").headManifest("latest").status, 200);
}

}  // namespace
}  // namespace berth::it

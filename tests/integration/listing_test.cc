// Listings: tags/list, referrers and the catalogs, with pagination.
#include <algorithm>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using ListingTest = RegistryTest;

// Follows Link rel="next" from `first`, collecting `field` of every page.
std::vector<std::string> walkPages(HttpClient& http, const std::string& first, const std::string& field,
                                   int* pages = nullptr) {
  std::vector<std::string> all;
  std::string target = first;
  for (int page = 0; page < 100 && !target.empty(); ++page) {
    auto r = http.get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.describe();
    if (r.status != 200) break;
    auto body = r.json();
    for (const auto& item : body[field]) all.push_back(item.get<std::string>());
    if (pages) *pages = page + 1;
    std::string link = r.header("Link");
    target.clear();
    if (!link.empty()) {
      EXPECT_TRUE(link.starts_with("<") && link.ends_with(">; rel=\"next\"")) << link;
      target = link.substr(1, link.find('>') - 1);
    }
  }
  return all;
}

TEST_F(ListingTest, TagsAreSorted) {
  Image image = makeImage();
  local_.pushImage(image, "latest");
  for (const char* tag : {"v2", "1.0", "alpha", "Beta", "v10", "_x"})
    ASSERT_EQ(local_.putManifest(tag, image.manifest).status, 201);
  auto r = local_.tags();
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.header("Content-Type").starts_with("application/json"));
  nlohmann::json expected{{"name", "docker-local/app"},
                          {"tags", {"1.0", "Beta", "_x", "alpha", "latest", "v10", "v2"}}};
  EXPECT_EQ(r.json(), expected) << r.body;
  EXPECT_FALSE(r.headers.has("Link"));
}

TEST_F(ListingTest, TagsPaginateWithLink) {
  Image image = makeImage();
  local_.pushImage(image, "t0");
  std::vector<std::string> tags{"t0"};
  for (int i = 1; i < 7; ++i) {
    tags.push_back("t" + std::to_string(i));
    ASSERT_EQ(local_.putManifest(tags.back(), image.manifest).status, 201);
  }
  auto r = local_.tags("n=2");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["tags"], nlohmann::json({"t0", "t1"}));
  EXPECT_EQ(r.header("Link"), "</v2/docker-local/app/tags/list?last=t1&n=2>; rel=\"next\"");
  int pages = 0;
  EXPECT_EQ(walkPages(http_, "/v2/docker-local/app/tags/list?n=2", "tags", &pages), tags);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(local_.tags("n=3&last=t2").json()["tags"], nlohmann::json({"t3", "t4", "t5"}));
  EXPECT_EQ(local_.tags("last=t5").json()["tags"], nlohmann::json({"t6"}));
  EXPECT_EQ(local_.tags("n=7").json()["tags"].size(), 7u);
  EXPECT_FALSE(local_.tags("n=7").headers.has("Link"));
}

TEST_F(ListingTest, PageSizeZeroIsAnEmptyPageWithoutLink) {
  local_.pushImage(makeImage(), "latest");
  for (const std::string& target : {local_.url() + "/tags/list?n=0", std::string("/v2/_catalog?n=0")}) {
    auto r = http_.get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.describe();
    // A next link that makes no progress sends Link-following clients into a loop.
    EXPECT_FALSE(r.headers.has("Link")) << target << ": " << r.describe();
  }
  EXPECT_EQ(local_.tags("n=0").json()["tags"], nlohmann::json::array());
}

TEST_F(ListingTest, TagsOfAnImageWithoutTagsIsEmpty) {
  Image image = makeImage();
  local_.pushImage(image);  // by digest only
  auto r = local_.tags();
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["tags"].size(), 0u) << r.body;
}

TEST_F(ListingTest, TagsOfAnUnknownImageIsNameUnknown) {
  EXPECT_API_ERROR(local_.tags(), 404, "NAME_UNKNOWN");
  local_.pushImage(makeImage(), "latest");
  EXPECT_API_ERROR(dev_.tags(), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(image("/v2/docker-local/app/sub").tags(), 404, "NAME_UNKNOWN");
}

TEST_F(ListingTest, BadPageSizeIsPaginationNumberInvalid) {
  local_.pushImage(makeImage(), "latest");
  for (const char* q : {"n=abc", "n=-1", "n=", "n=1.5"}) {
    SCOPED_TRACE(q);
    EXPECT_API_ERROR(local_.tags(q), 400, "PAGINATION_NUMBER_INVALID");
    EXPECT_API_ERROR(http_.get(std::string("/v2/_catalog?") + q), 400, "PAGINATION_NUMBER_INVALID");
  }
}

class ReferrersTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    subject_ = makeImage();
    local_.pushImage(subject_, "latest");
    sig_ = push(makeArtifact("application/vnd.example.sig", subject_.manifest, {{"org.example.k", "v"}}));
    sbom_ = push(makeArtifact("application/vnd.example.sbom", subject_.manifest));
  }
  Image push(Image art) {
    local_.pushImage(art);
    return art;
  }
  Image subject_, sig_, sbom_;
};

TEST_F(ReferrersTest, ListsTheManifestsWhoseSubjectIsTheDigest) {
  auto r = local_.referrers(subject_.manifest.digest);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Content-Type"), mt::kOciIndex);
  EXPECT_FALSE(r.headers.has("OCI-Filters-Applied"));
  auto index = r.json();
  EXPECT_EQ(index["schemaVersion"], 2);
  EXPECT_EQ(index["mediaType"], mt::kOciIndex);
  ASSERT_EQ(index["manifests"].size(), 2u) << r.body;
  auto sig = sig_.manifest.descriptor();
  sig["artifactType"] = "application/vnd.example.sig";
  sig["annotations"] = {{"org.example.k", "v"}};
  auto sbom = sbom_.manifest.descriptor();
  sbom["artifactType"] = "application/vnd.example.sbom";
  const auto& got = index["manifests"];
  EXPECT_TRUE(std::find(got.begin(), got.end(), sig) != got.end()) << "missing " << sig << " in " << got;
  EXPECT_TRUE(std::find(got.begin(), got.end(), sbom) != got.end()) << "missing " << sbom << " in " << got;
}

TEST_F(ReferrersTest, ArtifactTypeFilters) {
  auto r = local_.referrers(subject_.manifest.digest, "artifactType=application/vnd.example.sbom");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("OCI-Filters-Applied"), "artifactType");
  auto manifests = r.json()["manifests"];
  ASSERT_EQ(manifests.size(), 1u) << r.body;
  EXPECT_EQ(manifests[0]["digest"], sbom_.manifest.digest);
  r = local_.referrers(subject_.manifest.digest, "artifactType=application/vnd.none");
  EXPECT_EQ(r.json()["manifests"].size(), 0u) << r.body;
}

TEST_F(ReferrersTest, ArtifactTypeFallsBackToTheConfigMediaType) {
  Image plain = makeImage(mt::kOciManifest, 1, {{"subject", subject_.manifest.descriptor()}});
  local_.pushImage(plain);
  auto r = local_.referrers(subject_.manifest.digest, "artifactType=application/vnd.oci.image.config.v1%2Bjson");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto manifests = r.json()["manifests"];
  ASSERT_EQ(manifests.size(), 1u) << r.body;
  EXPECT_EQ(manifests[0]["digest"], plain.manifest.digest);
  EXPECT_EQ(manifests[0]["artifactType"], mt::kOciConfig);
}

TEST_F(ReferrersTest, NoReferrersIsAnEmptyIndex) {
  for (const std::string& digest : {sig_.manifest.digest, sha256Of("never pushed")}) {
    auto r = local_.referrers(digest);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.header("Content-Type"), mt::kOciIndex);
    EXPECT_EQ(r.json()["manifests"], nlohmann::json::array()) << r.body;
  }
  EXPECT_EQ(dev_.referrers(subject_.manifest.digest).json()["manifests"].size(), 0u);
}

TEST_F(ReferrersTest, DeletedReferrerDisappears) {
  ASSERT_EQ(local_.deleteManifest(sig_.manifest.digest).status, 202);
  auto manifests = local_.referrers(subject_.manifest.digest).json()["manifests"];
  ASSERT_EQ(manifests.size(), 1u);
  EXPECT_EQ(manifests[0]["digest"], sbom_.manifest.digest);
}

TEST_F(ReferrersTest, MalformedDigestIsDigestInvalid) {
  EXPECT_API_ERROR(local_.referrers("sha256:zz"), 400, "DIGEST_INVALID");
}

class CatalogTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    for (const char* url : {"/v2/docker-local/app", "/v2/docker-local/b/c", "/v2/docker-dev/app",
                            "/v2/docker-local/a-b", "/v2/docker-dev/zeta/x"})
      image(url).pushImage(makeImage(mt::kOciManifest, 1), "latest");
  }
  const std::vector<std::string> all_{"docker-dev/app", "docker-dev/zeta/x", "docker-local/a-b", "docker-local/app",
                                      "docker-local/b/c"};
};

TEST_F(CatalogTest, ListsKeyAndImageAcrossRepositoriesSorted) {
  auto r = http_.get("/v2/_catalog");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json(), nlohmann::json({{"repositories", all_}})) << r.body;
  EXPECT_FALSE(r.headers.has("Link"));
}

TEST_F(CatalogTest, PaginatesWithLink) {
  auto r = http_.get("/v2/_catalog?n=2");
  EXPECT_EQ(r.json()["repositories"], nlohmann::json({"docker-dev/app", "docker-dev/zeta/x"}));
  EXPECT_EQ(r.header("Link"), "</v2/_catalog?last=docker-dev%2Fzeta%2Fx&n=2>; rel=\"next\"");
  for (int n : {1, 2, 3, 4}) {
    int pages = 0;
    EXPECT_EQ(walkPages(http_, "/v2/_catalog?n=" + std::to_string(n), "repositories", &pages), all_) << "n=" << n;
    EXPECT_EQ(pages, (5 + n - 1) / n) << "n=" << n;  // no empty last page
  }
  r = http_.get("/v2/_catalog?n=2&last=docker-dev/zeta/x");
  EXPECT_EQ(r.json()["repositories"], nlohmann::json({"docker-local/a-b", "docker-local/app"})) << r.body;
}

TEST_F(CatalogTest, PerRepositoryCatalogListsImageNames) {
  for (const char* prefix : {"/api/docker/docker-local/v2", "/artifactory/api/docker/docker-local/v2"}) {
    auto r = http_.get(std::string(prefix) + "/_catalog");
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.json(), nlohmann::json({{"repositories", {"a-b", "app", "b/c"}}})) << r.body;
  }
  EXPECT_EQ(walkPages(http_, "/api/docker/docker-dev/v2/_catalog?n=1", "repositories"),
            std::vector<std::string>({"app", "zeta/x"}));
  EXPECT_API_ERROR(http_.get("/api/docker/nosuch/v2/_catalog"), 404, "NAME_UNKNOWN");
}

// An image whose tags, manifests and blob links are all deleted leaves both
// catalogs, and pagination skips it as if it had never been pushed.
TEST_F(CatalogTest, ImageWithNothingLeftIsNoLongerListed) {
  Image img = makeImage(mt::kOciManifest, 2);
  ImageClient gone = image("/v2/docker-local/ab");  // sorts between a-b and app
  gone.pushImage(img, "v1");
  ASSERT_EQ(gone.putManifest("v2", img.manifest).status, 201);
  auto listed = [&] { return walkPages(http_, "/v2/_catalog?n=2", "repositories"); };
  auto with_gone = all_;
  with_gone.insert(std::find(with_gone.begin(), with_gone.end(), "docker-local/app"), "docker-local/ab");
  ASSERT_EQ(listed(), with_gone);

  EXPECT_EQ(gone.deleteManifest("v1").status, 202);
  EXPECT_EQ(gone.deleteManifest(img.manifest.digest).status, 202);  // and the other tag with it
  EXPECT_EQ(listed(), with_gone) << "its blobs are still linked";
  EXPECT_EQ(gone.deleteBlob(img.config.digest).status, 202);
  EXPECT_EQ(gone.deleteBlob(img.layers[0].digest).status, 202);
  EXPECT_EQ(listed(), with_gone) << "one blob is still linked";
  EXPECT_EQ(gone.deleteBlob(img.layers[1].digest).status, 202);

  EXPECT_EQ(http_.get("/v2/_catalog").json()["repositories"], nlohmann::json(all_));
  for (int n : {1, 2, 3, 4, 5}) {
    int pages = 0;
    EXPECT_EQ(walkPages(http_, "/v2/_catalog?n=" + std::to_string(n), "repositories", &pages), all_) << "n=" << n;
    EXPECT_EQ(pages, (5 + n - 1) / n) << "n=" << n;  // no empty page where it was
  }
  EXPECT_EQ(walkPages(http_, "/api/docker/docker-local/v2/_catalog?n=1", "repositories"),
            std::vector<std::string>({"a-b", "app", "b/c"}));
  EXPECT_API_ERROR(gone.tags(), 404, "NAME_UNKNOWN");
  restartDaemon();
  EXPECT_EQ(http_.get("/v2/_catalog").json()["repositories"], nlohmann::json(all_));
  gone.pushImage(img, "v1");  // pushed again: listed again
  EXPECT_EQ(listed(), with_gone);
}

TEST_F(CatalogTest, ImageWithATagLeftStaysListed) {
  ImageClient app = image("/v2/docker-local/app");
  ASSERT_EQ(app.putManifest("other", app.getManifest("latest").body, mt::kOciManifest).status, 201);
  EXPECT_EQ(app.deleteManifest("latest").status, 202);  // by tag: the manifest and "other" stay
  EXPECT_EQ(http_.get("/v2/_catalog").json()["repositories"], nlohmann::json(all_));
}

TEST(EmptyCatalog, IsAnEmptyList) {
  Daemon daemon;
  daemon.start();
  HttpClient http(daemon.host(), daemon.port());
  EXPECT_EQ(http.get("/v2/_catalog").json(), nlohmann::json({{"repositories", nlohmann::json::array()}}));
  EXPECT_EQ(http.get("/api/docker/docker-dev/v2/_catalog").json(),
            nlohmann::json({{"repositories", nlohmann::json::array()}}));
  http.close();
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace berth::it

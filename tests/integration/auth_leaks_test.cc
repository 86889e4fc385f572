// Cross-repository leaks: users who may read or deploy only docker-dev must
// learn nothing about docker-prod -- by tag, by digest, by blob digest, through
// a mount, a manifest that names foreign blobs, an upload session, a token,
// another route family or the catalogs.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

const std::string kDev = "/v2/docker-dev/app";
const std::string kProd = "/v2/docker-prod/secret";

class LeakTest : public SecureTest {
 protected:
  void SetUp() override {
    SecureTest::SetUp();
    prod_ = makeImage();
    dev_ = makeImage();
    ASSERT_EQ(as("root").pushImage(kProd, prod_, "1").status, 201);
    ASSERT_EQ(as("root").pushImage(kDev, dev_, "1").status, 201);
  }
  // 401, 403 or 404 with an error body: nothing of the resource.
  static void expectRefused(const Response& r, bool head = false) {
    EXPECT_TRUE(r.status == 401 || r.status == 403 || r.status == 404) << r.describe();
    if (!head) {
      std::string code = r.errorCode();
      EXPECT_TRUE(code == "UNAUTHORIZED" || code == "DENIED" || code.ends_with("_UNKNOWN")) << r.describe();
    }
    EXPECT_EQ(r.header("Docker-Content-Digest"), "") << r.describe();
  }
  Image prod_, dev_;
};

TEST_F(LeakTest, ReaderOfDevGetsNothingFromProdByTagDigestOrBlob) {
  for (const char* user : {"reader", "deployer", "deleter"}) {
    SCOPED_TRACE(user);
    As u = as(user);
    EXPECT_API_ERROR(u.getManifest(kProd, "1"), 403, "DENIED");
    EXPECT_API_ERROR(u.getManifest(kProd, prod_.manifest.digest), 403, "DENIED");
    EXPECT_EQ(u.headManifest(kProd, "1").status, 403);
    EXPECT_EQ(u.headManifest(kProd, prod_.manifest.digest).status, 403);
    EXPECT_API_ERROR(u.getBlob(kProd, prod_.layers[0].digest), 403, "DENIED");
    EXPECT_EQ(u.head(kProd + "/blobs/" + prod_.config.digest).status, 403);
    EXPECT_API_ERROR(u.get(kProd + "/tags/list"), 403, "DENIED");
    EXPECT_API_ERROR(u.get(kProd + "/referrers/" + prod_.manifest.digest), 403, "DENIED");
    // Existing and missing names look alike: no existence oracle.
    EXPECT_API_ERROR(u.getManifest("/v2/docker-prod/nothing", "1"), 403, "DENIED");
    EXPECT_API_ERROR(u.del(kProd + "/manifests/" + prod_.manifest.digest), 403, "DENIED");
    EXPECT_API_ERROR(u.del(kProd + "/blobs/" + prod_.layers[0].digest), 403, "DENIED");
  }
  EXPECT_EQ(as("root").getManifest(kProd, "1").body, prod_.manifest.bytes) << "nothing was deleted";
}

TEST_F(LeakTest, OtherRouteFamiliesEnforceTheSame) {
  for (std::string base : {"/api/docker/docker-prod/v2", "/artifactory/api/docker/docker-prod/v2"}) {
    SCOPED_TRACE(base);
    EXPECT_API_ERROR(as("reader").getManifest(base + "/secret", "1"), 403, "DENIED");
    EXPECT_API_ERROR(as("reader").getBlob(base + "/secret", prod_.layers[0].digest), 403, "DENIED");
    EXPECT_API_ERROR(as("reader").get(base + "/secret/tags/list"), 403, "DENIED");
    EXPECT_API_ERROR(as("reader").get(base + "/_catalog"), 403, "DENIED");
    EXPECT_API_ERROR(anon().getManifest(base + "/secret", "1"), 401, "UNAUTHORIZED");
    EXPECT_EQ(as("prodonly").getManifest(base + "/secret", "1").status, 200);
  }
  EXPECT_EQ(as("reader").getManifest("/api/docker/docker-dev/v2/app", "1").status, 200);
}

TEST_F(LeakTest, ProdContentIsNotReachableThroughDev) {
  As reader = as("reader");
  expectRefused(reader.getManifest(kDev, prod_.manifest.digest));
  expectRefused(reader.headManifest(kDev, prod_.manifest.digest), true);
  expectRefused(reader.getBlob(kDev, prod_.layers[0].digest));
  expectRefused(reader.head(kDev + "/blobs/" + prod_.config.digest), true);
  expectRefused(reader.getManifest("/v2/docker-dev/secret", prod_.manifest.digest));
  expectRefused(reader.getBlob("/v2/docker-dev/secret", prod_.layers[1].digest));
  expectRefused(as("root").getBlob(kDev, prod_.layers[0].digest));  // not linked there, even for an admin
}

TEST_F(LeakTest, MountFromAnUnreadableRepositoryIsNeverACreatedBlob) {
  for (const std::string& target : {kDev, std::string("/api/docker/docker-dev/v2/app")}) {
    SCOPED_TRACE(target);
    auto r = as("deployer").mount(target, prod_.layers[0].digest, "docker-prod/secret");
    EXPECT_EQ(r.status, 202) << r.describe();
    EXPECT_NE(r.header("Location").find("/blobs/uploads/"), std::string::npos) << r.describe();
    EXPECT_EQ(r.header("Docker-Content-Digest"), "") << r.describe();
    expectRefused(as("deployer").head(kDev + "/blobs/" + prod_.layers[0].digest), true);
  }
  // A mount within one repository obeys include/exclude too.
  ASSERT_EQ(as("root").pushBlob("/v2/docker-local/team/secret-x", "hidden").status, 201);
  auto r = as("patterned").mount("/v2/docker-local/app", sha256Of("hidden"), "docker-local/team/secret-x");
  EXPECT_EQ(r.status, 202) << r.describe();
  expectRefused(as("patterned").getBlob("/v2/docker-local/app", sha256Of("hidden")));
  // With read on the source the same mount works.
  r = as("root").mount(kDev, prod_.layers[0].digest, "docker-prod/secret");
  EXPECT_EQ(r.status, 201) << r.describe();
}

TEST_F(LeakTest, AManifestNamingForeignBlobsDoesNotLinkThem) {
  // The deployer knows prod's manifest bytes (say, from a leaked digest list) but
  // never uploaded its blobs to docker-dev.
  auto r = as("deployer").putManifest(kDev, "stolen", prod_.manifest);
  EXPECT_API_ERROR(r, 400, "MANIFEST_BLOB_UNKNOWN");
  expectRefused(as("deployer").getBlob(kDev, prod_.layers[0].digest));
  expectRefused(as("deployer").getBlob(kDev, prod_.config.digest));
  // A monolithic upload claiming the digest needs the bytes.
  r = as("deployer")
          .post(kDev + "/blobs/uploads/?digest=" + prod_.layers[0].digest, "not the bytes",
                {{"Content-Type", "application/octet-stream"}});
  EXPECT_API_ERROR(r, 400, "DIGEST_INVALID");
  expectRefused(as("deployer").getBlob(kDev, prod_.layers[0].digest));
}

TEST_F(LeakTest, UploadSessionsStayInTheirRepository) {
  auto r = as("prodonly").post(kProd + "/blobs/uploads/");
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string prod_session = pathOf(r.header("Location"));
  std::string uuid = r.header("Docker-Upload-UUID");
  ASSERT_FALSE(uuid.empty());
  // The deployer of docker-dev addresses prod's session through a docker-dev URL.
  const std::string via_dev = kDev + "/blobs/uploads/" + uuid;
  r = as("deployer").send("PATCH", via_dev, "evil", {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.status, 404) << r.describe();
  r = as("deployer").put(via_dev + "?digest=" + sha256Of("evil"), "evil");
  EXPECT_EQ(r.status, 404) << r.describe();
  EXPECT_API_ERROR(as("deployer").send("PATCH", prod_session, "evil"), 403, "DENIED");
  // Prod's owner finishes it untouched.
  r = as("prodonly").put(withQuery(prod_session, "digest=" + sha256Of("good")), "good");
  EXPECT_EQ(r.status, 201) << r.describe();
  expectRefused(as("root").getBlob(kDev, sha256Of("evil")));
}

TEST_F(LeakTest, CatalogListsOnlyReadableImages) {
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/base", dev_, "1").status, 201);
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/team/x", dev_, "1").status, 201);
  auto names = [&](As who, const std::string& q = "") {
    auto r = who.get("/v2/_catalog" + q);
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.json().value("repositories", nlohmann::json::array());
  };
  using J = nlohmann::json;
  EXPECT_EQ(names(as("reader")), J({"docker-dev/app"}));
  EXPECT_EQ(names(as("prodonly")), J({"docker-prod/secret"}));
  EXPECT_EQ(names(as("patterned")), J({"docker-local/team/x"}));
  EXPECT_EQ(names(as("root")),
            J({"docker-dev/app", "docker-local/public/base", "docker-local/team/x", "docker-prod/secret"}));
  auto anon_catalog = anon().get("/v2/_catalog");
  if (anon_catalog.status == 200) {
    EXPECT_EQ(anon_catalog.json()["repositories"], J({"docker-local/public/base"})) << anon_catalog.describe();
  } else {
    EXPECT_API_ERROR(anon_catalog, 401, "UNAUTHORIZED");
  }
  // Paging leaks no names through Link either.
  auto r = as("reader").get("/v2/_catalog?n=1");
  EXPECT_EQ(r.body.find("docker-prod"), std::string::npos) << r.describe();
  EXPECT_EQ(r.header("Link").find("docker-prod"), std::string::npos) << r.describe();
  r = as("reader").get("/v2/_catalog?n=10&last=docker-dev/app");
  EXPECT_EQ(r.json()["repositories"], J::array()) << r.describe();
  // Per-repository catalogs.
  EXPECT_EQ(as("reader").get("/api/docker/docker-dev/v2/_catalog").json()["repositories"], J({"app"}));
  EXPECT_EQ(as("patterned").get("/api/docker/docker-local/v2/_catalog").json()["repositories"], J({"team/x"}));
}

TEST_F(LeakTest, TokensGrantNothingOutsideThePermissions) {
  std::string token = dockerToken(
      "reader", {"repository:docker-prod/secret:pull,push,delete", "repository:docker-dev/app:pull,push,delete",
                 "repository:nosuch/x:pull", "registry:catalog:*"});
  auto access = Jwt::split(token).claims()["access"];
  nlohmann::json granted = nlohmann::json::object();
  for (const auto& a : access) granted[a["name"].get<std::string>()] = a["actions"];
  EXPECT_EQ(granted["docker-prod/secret"], nlohmann::json::array()) << access;
  EXPECT_EQ(granted["docker-dev/app"], nlohmann::json::array({"pull"})) << access;
  if (granted.contains("nosuch/x")) {
    EXPECT_EQ(granted["nosuch/x"], nlohmann::json::array()) << access;
  }
  As bearer = withBearer(token);
  expectRefused(bearer.getManifest(kProd, "1"));
  expectRefused(bearer.getBlob(kProd, prod_.layers[0].digest));
  EXPECT_EQ(bearer.getManifest(kDev, "1").status, 200);
  expectRefused(bearer.pushBlob(kDev, "x"));
  // A token scoped to docker-dev/app is not a token for docker-dev/other.
  ASSERT_EQ(as("root").pushImage("/v2/docker-dev/other", dev_, "1").status, 201);
  expectRefused(bearer.getManifest("/v2/docker-dev/other", "1"));
}

}  // namespace
}  // namespace berth::it

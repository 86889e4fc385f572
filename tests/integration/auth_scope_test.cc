// A Bearer token is good only for the scope it was issued for: an
// administrator's pull token for one image is not an administrator's login on
// the security API, cannot be exchanged at the token endpoint for more (or for
// a refresh token), and lists no catalog. And an unknown repository key answers
// as a key the caller may not read: existence is no secret only to readers.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};

class ScopeTest : public SecureTest {
 protected:
  void SetUp() override {
    SecureTest::SetUp();
    ASSERT_EQ(as("root").pushImage("/v2/docker-dev/app", makeImage(), "1").status, 201);
    ASSERT_EQ(as("root").pushImage("/v2/docker-prod/secret", makeImage(), "1").status, 201);
  }
  std::string pullToken(const std::string& who = "root") { return dockerToken(who, {"repository:docker-local/foo:pull"}); }
  std::set<std::string> userNames() {
    std::set<std::string> out;
    for (const auto& u : as("root").get("/api/security/users").json()) out.insert(u["name"].get<std::string>());
    return out;
  }
};

TEST_F(ScopeTest, APullTokenOfAnAdministratorIsNoAdministratorLogin) {
  As bearer = withBearer(pullToken());
  auto before = userNames();
  auto r = bearer.put("/api/security/users/mallory", R"({"password":"Mallory-1","admin":true})", kJson);
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Basic realm=\"Berth\"") << "ask for Basic credentials";
  EXPECT_EQ(userNames(), before) << "no user was created";
  EXPECT_API_ERROR(bearer.post("/api/security/token", R"({"username":"root"})", kJson), 401, "UNAUTHORIZED");
  EXPECT_TRUE(as("root").get("/api/security/token").json()["tokens"].empty()) << "no access token was minted";
  for (const char* path : {"/api/security/users", "/api/security/groups", "/api/security/permissions",
                           "/api/security/token", "/artifactory/api/security/users"}) {
    SCOPED_TRACE(path);
    EXPECT_API_ERROR(bearer.get(path), 401, "UNAUTHORIZED");
  }
  EXPECT_API_ERROR(bearer.del("/api/security/users/reader"), 401, "UNAUTHORIZED");
  EXPECT_EQ(as("reader").get("/v2/").status, 200) << "reader still exists";
  // Basic credentials still work, of course.
  EXPECT_EQ(as("root").get("/api/security/users").status, 200);
}

TEST_F(ScopeTest, ATokenForTheSecurityApiIsOnlyForAPasswordLogin) {
  std::string token = dockerToken("root", {"registry:security:*"});
  EXPECT_EQ(withBearer(token).get("/api/security/users").status, 200);
  EXPECT_EQ(withBearer(token).get("/v2/docker-dev/app/tags/list").status, 401) << "and for nothing else";
  // Whoever holds it is checked again: a non-administrator stays one.
  EXPECT_API_ERROR(withBearer(dockerToken("reader", {"registry:security:*"})).get("/api/security/users"), 403,
                   "DENIED");
  // A refresh token stands for a password, but not for the security API.
  auto r = http_.post("/v2/token",
                      "grant_type=password&username=root&password=root-pw&service=x&access_type=offline",
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  r = http_.post("/v2/token",
                 "grant_type=refresh_token&service=x&scope=registry%3Asecurity%3A*&refresh_token=" +
                     r.json()["refresh_token"].get<std::string>(),
                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_API_ERROR(withBearer(r.json()["access_token"]).get("/api/security/users"), 401, "UNAUTHORIZED");
}

TEST_F(ScopeTest, ATokenCannotBeExchangedForAWiderOneOrARefreshToken) {
  As bearer = withBearer(pullToken());
  auto r = bearer.get("/v2/token?service=" + hostPort() +
                      "&scope=repository:docker-prod/secret:pull,push,delete&offline_token=true");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_FALSE(r.json().contains("token")) << r.describe();
  EXPECT_FALSE(r.json().contains("refresh_token")) << r.describe();
  EXPECT_API_ERROR(bearer.get("/api/docker/docker-prod/v2/token?scope=repository:secret:pull"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(withBearer(dockerToken("", {})).get("/v2/token?scope=repository:docker-local/public/x:pull"), 401,
                   "UNAUTHORIZED");
  // An access token sent as Bearer is a credential of its own, as with Basic.
  auto created = as("root").post("/api/security/token", "{}", kJson).json();
  r = withBearer(created["access_token"]).get("/v2/token?service=x&scope=repository:docker-dev/app:pull");
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST_F(ScopeTest, CatalogsNeedACatalogScope) {
  As bearer = withBearer(pullToken());
  for (const std::string path : {"/v2/_catalog", "/api/docker/docker-prod/v2/_catalog",
                                 "/artifactory/api/docker/docker-dev/v2/_catalog"}) {
    SCOPED_TRACE(path);
    auto r = bearer.get(path);
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
    EXPECT_NE(r.header("WWW-Authenticate").find("scope=\"registry:catalog:*\""), std::string::npos) << r.describe();
    EXPECT_NE(r.header("WWW-Authenticate").find("error=\"insufficient_scope\""), std::string::npos) << r.describe();
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.describe();
  }
  // With the scope, the catalog lists what the user may read, as with Basic.
  auto r = withBearer(dockerToken("reader", {"registry:catalog:*"})).get("/v2/_catalog");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["repositories"], J({"docker-dev/app"}));
  r = withBearer(dockerToken("root", {"registry:catalog:*"})).get("/api/docker/docker-prod/v2/_catalog");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["repositories"], J({"secret"}));
  // Under a repository's realm the scope reads the same.
  std::string family = "/api/docker/docker-dev/v2";
  r = withBearer(dockerToken("reader", {"registry:catalog:*"}, family)).get(family + "/_catalog");
  EXPECT_EQ(r.status, 200) << r.describe();
  // The version check is a handshake: any valid token passes it.
  EXPECT_EQ(bearer.get("/v2/").status, 200);
  EXPECT_EQ(bearer.get("/api/docker/docker-dev/v2/").status, 200);
}

// An unknown key answers as a known one the caller may not read.
class UnknownKeyTest : public ScopeTest {
 protected:
  void SetUp() override {
    opts_.extra_users = userYaml("alice");
    opts_.extra_permissions = "    - {name: any-read, repositories: [ANY], users: {alice: [read]}}\n";
    ScopeTest::SetUp();
  }
  // The response with the repository named in it replaced, for comparison.
  static std::string shape(const Response& r, const std::string& key) {
    std::string s = std::to_string(r.status) + " " + r.header("WWW-Authenticate") + " " + r.body;
    for (auto p = s.find(key); p != std::string::npos; p = s.find(key)) s.replace(p, key.size(), "<key>");
    return s;
  }
};

TEST_F(UnknownKeyTest, AnonymousCallersCannotTellUnknownKeysFromForbiddenOnes) {
  const std::string digest = sha256Of("x");
  struct Case {
    std::string method, path;  // with <key> for the repository key
  } cases[] = {
      {"GET", "/v2/<key>/app/manifests/1"},
      {"HEAD", "/v2/<key>/app/manifests/1"},
      {"GET", "/v2/<key>/app/blobs/" + digest},
      {"GET", "/v2/<key>/app/blobs/sha256:bad"},
      {"GET", "/v2/<key>/app/manifests/bad@ref"},
      {"GET", "/v2/<key>/app/tags/list"},
      {"GET", "/v2/<key>/app/referrers/" + digest},
      {"POST", "/v2/<key>/app/blobs/uploads/"},
      {"PUT", "/v2/<key>/app/manifests/1"},
      {"DELETE", "/v2/<key>/app/manifests/" + digest},
      {"PATCH", "/v2/<key>/app/blobs/uploads/0123"},
      {"GET", "/api/docker/<key>/v2/app/manifests/1"},
      {"GET", "/artifactory/api/docker/<key>/v2/app/tags/list"},
      {"GET", "/api/docker/<key>/v2/_catalog"},
      {"GET", "/api/docker/<key>/v2/"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto at = [&](const std::string& key) {
      std::string p = c.path;
      p.replace(p.find("<key>"), 5, key);
      return anon().send(c.method, p);
    };
    auto known = at("docker-prod"), unknown = at("nosuch");
    EXPECT_EQ(known.status, 401) << known.describe();
    EXPECT_EQ(shape(unknown, "nosuch"), shape(known, "docker-prod"));
  }
}

TEST_F(UnknownKeyTest, OnlyReadersOfAKeyLearnThatItDoesNotExist) {
  for (const std::string path : {"/v2/<key>/app/manifests/1", "/v2/<key>/app/tags/list",
                                 "/api/docker/<key>/v2/_catalog", "/api/docker/<key>/v2/"}) {
    SCOPED_TRACE(path);
    auto at = [&](const std::string& who, const std::string& key) {
      std::string p = path;
      p.replace(p.find("<key>"), 5, key);
      return as(who).get(p);
    };
    // reader may read docker-dev only: both are 403 DENIED, alike.
    auto known = at("reader", "docker-prod"), unknown = at("reader", "nosuch");
    EXPECT_API_ERROR(known, 403, "DENIED");
    EXPECT_EQ(shape(unknown, "nosuch"), shape(known, "docker-prod"));
    // alice may read ANY key, root is an administrator: they learn the truth.
    EXPECT_API_ERROR(at("alice", "nosuch"), 404, "NAME_UNKNOWN");
    EXPECT_API_ERROR(at("root", "nosuch"), 404, "NAME_UNKNOWN");
  }
  // A Bearer token for another repository is refused as for a known key.
  As bearer = withBearer(dockerToken("root", {"repository:docker-dev/app:pull"}));
  auto known = bearer.getManifest("/v2/docker-prod/app", "1"), unknown = bearer.getManifest("/v2/nosuch/app", "1");
  EXPECT_EQ(known.status, 401);
  EXPECT_EQ(shape(unknown, "nosuch"), shape(known, "docker-prod"));
  // Routes without a repository are untouched.
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
  EXPECT_EQ(as("reader").get("/v2/_catalog").status, 200);
  EXPECT_EQ(as("reader").get("/v2/auth").status, 200);
  EXPECT_EQ(as("reader").get("/v2/token?service=x").status, 200);
}

}  // namespace
}  // namespace berth::it

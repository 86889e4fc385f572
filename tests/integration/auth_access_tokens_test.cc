// Access tokens for CI (POST/GET /api/security/token, DELETE .../<id>): usable
// as the password with Basic and at the token endpoint, narrower scope,
// listing without secrets, revocation, expiry, and no way to widen a scope.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};
const std::string kDev = "/v2/docker-dev/app";

class AccessTokenTest : public SecureTest {
 protected:
  void SetUp() override {
    SecureTest::SetUp();
    ASSERT_EQ(as("root").pushImage(kDev, makeImage(), "1").status, 201);
    ASSERT_EQ(as("root").pushImage("/v2/docker-prod/x", makeImage(), "1").status, 201);
  }
  // Creates a token as `who`; the whole answer.
  J create(const std::string& who, const J& body = J::object(), int want = 200) {
    auto r = as(who).post("/api/security/token", body.dump(), kJson);
    EXPECT_EQ(r.status, want) << r.describe();
    return r.json();
  }
  As with(const std::string& user, const std::string& token) {
    return As(http_, {{"Authorization", basic(user, token)}});
  }
};

TEST_F(AccessTokenTest, ATokenIsAPasswordForItsUser) {
  J t = create("reader", {{"description", "ci"}});
  ASSERT_TRUE(t["access_token"].is_string()) << t;
  std::string secret = t["access_token"];
  EXPECT_TRUE(secret.starts_with("berth_")) << secret;
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["username"], "reader");
  EXPECT_TRUE(t["token_id"].is_string() && !t["token_id"].get<std::string>().empty()) << t;
  EXPECT_EQ(with("reader", secret).get("/v2/").status, 200) << "docker login with the token";
  EXPECT_EQ(with("reader", secret).getManifest(kDev, "1").status, 200);
  EXPECT_EQ(with("reader", secret).getManifest("/v2/docker-prod/x", "1").status, 403);
  EXPECT_EQ(with("deployer", secret).get("/v2/").status, 401) << "someone else's token";
  EXPECT_EQ(with("reader", secret + "x").get("/v2/").status, 401);
  EXPECT_EQ(with("reader", "berth_").get("/v2/").status, 401);
  // At the token endpoint, as docker login / pull do.
  auto r = with("reader", secret).get("/v2/token?service=x&scope=repository:docker-dev/app:pull");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(withBearer(r.json()["token"]).getManifest(kDev, "1").status, 200);
  r = http_.post("/v2/token",
                 "grant_type=password&username=reader&password=" + secret +
                     "&service=x&scope=repository%3Adocker-dev%2Fapp%3Apull",
                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST_F(AccessTokenTest, NarrowerScopeByActionsAndRepositories) {
  std::string read_only = create("deleter", {{"actions", {"read"}}})["access_token"];
  EXPECT_EQ(with("deleter", read_only).getManifest(kDev, "1").status, 200);
  EXPECT_API_ERROR(with("deleter", read_only).pushBlob(kDev, "x"), 403, "DENIED");
  EXPECT_API_ERROR(with("deleter", read_only).del(kDev + "/manifests/1"), 403, "DENIED");
  // The Docker token issued for it carries the narrower grant too.
  auto r = with("deleter", read_only).get("/v2/token?service=x&scope=repository:docker-dev/app:pull,push,delete");
  ASSERT_EQ(r.status, 200);
  std::string bearer = r.json()["token"];
  EXPECT_EQ(Jwt::split(bearer).claims()["access"][0]["actions"], J({"pull"}));
  EXPECT_EQ(withBearer(bearer).pushBlob(kDev, "x").status, 403);
  EXPECT_FALSE(r.json().contains("refresh_token"));
  r = with("deleter", read_only).get("/v2/token?service=x&offline_token=true&scope=repository:docker-dev/app:pull");
  EXPECT_FALSE(r.json().contains("refresh_token")) << "a refresh token would shed the narrower scope";

  std::string dev_only = create("root", {{"repositories", {"docker-dev"}}})["access_token"];
  EXPECT_EQ(with("root", dev_only).pushBlob(kDev, "y").status, 201);
  EXPECT_API_ERROR(with("root", dev_only).getManifest("/v2/docker-prod/x", "1"), 403, "DENIED");
  EXPECT_API_ERROR(with("root", dev_only).pushBlob("/v2/docker-local/app", "y"), 403, "DENIED");
  // The scope only narrows: a token cannot hold more than its user.
  std::string wide = create("reader", {{"actions", {"delete"}}, {"repositories", {"docker-prod"}}})["access_token"];
  EXPECT_EQ(with("reader", wide).getManifest("/v2/docker-prod/x", "1").status, 403);
  EXPECT_EQ(with("reader", wide).pushBlob(kDev, "z").status, 403);
}

TEST_F(AccessTokenTest, AScopedTokenCannotWidenItself) {
  // A read-only token must not mint an unrestricted token for its user.
  std::string read_only = create("deleter", {{"actions", {"read"}}})["access_token"];
  auto r = with("deleter", read_only).post("/api/security/token", "{}", kJson);
  if (r.status == 200) {
    std::string second = r.json()["access_token"];
    EXPECT_NE(with("deleter", second).pushBlob(kDev, "w").status, 201)
        << "a read-only token minted a token that can push: " << r.body;
  } else {
    EXPECT_TRUE(r.status == 401 || r.status == 403) << r.describe();
  }
  // An administrator's token scoped to reading docker-dev is no administrator.
  std::string scoped_admin = create("root", {{"repositories", {"docker-dev"}}, {"actions", {"read"}}})["access_token"];
  EXPECT_EQ(with("root", scoped_admin).getManifest(kDev, "1").status, 200);
  r = with("root", scoped_admin)
          .put("/api/security/users/evil", J({{"password", "Evil-1"}, {"admin", true}}).dump(), kJson);
  EXPECT_TRUE(r.status == 401 || r.status == 403) << "a read-only admin token created an admin: " << r.describe();
  EXPECT_NE(http_.get("/v2/", {{"Authorization", basic("evil", "Evil-1")}}).status, 200);
  r = with("root", scoped_admin).post("/api/security/token", J({{"username", "deleter"}}).dump(), kJson);
  EXPECT_TRUE(r.status == 401 || r.status == 403)
      << "a read-only admin token minted tokens for others: " << r.describe();
}

TEST_F(AccessTokenTest, WhoMayCreateForWhom) {
  J other = create("reader", {{"username", "deployer"}}, 403);
  EXPECT_EQ(other.value("access_token", ""), "");
  EXPECT_EQ(create("root", {{"username", "ghost"}}, 404).value("access_token", ""), "");
  J t = create("root", {{"username", "deployer"}, {"description", "robot"}});
  EXPECT_EQ(t["username"], "deployer");
  EXPECT_EQ(with("deployer", t["access_token"]).pushBlob(kDev, "r").status, 201);
  EXPECT_API_ERROR(anon().post("/api/security/token", "{}", kJson), 401, "UNAUTHORIZED");
  // Bad bodies.
  for (const char* body : {R"({"actions":["fly"]})", R"({"expires_in":-5})", "not json"}) {
    SCOPED_TRACE(body);
    EXPECT_API_ERROR(as("reader").post("/api/security/token", body, kJson), 400, "BAD_REQUEST");
  }
  // Artifactory's form.
  auto r = as("reader").post("/api/security/token", "username=reader&expires_in=600&description=form",
                             {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["expires_in"], 600);
  EXPECT_EQ(with("reader", r.json()["access_token"]).get("/v2/").status, 200);
}

TEST_F(AccessTokenTest, ListingShowsNoSecretsAndOnlyOwnTokensToUsers) {
  J a = create("reader", {{"description", "mine"}});
  J b = create("deployer");
  J c = create("root", {{"username", "deployer"}});
  auto r = as("root").get("/api/security/token");
  ASSERT_EQ(r.status, 200) << r.describe();
  ASSERT_TRUE(r.json()["tokens"].is_array()) << r.body;
  EXPECT_EQ(r.json()["tokens"].size(), 3u) << r.body;
  for (const J* t : {&a, &b, &c}) EXPECT_EQ(r.body.find((*t)["access_token"].get<std::string>()), std::string::npos);
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
  r = as("reader").get("/api/security/token");
  ASSERT_EQ(r.json()["tokens"].size(), 1u) << r.body;
  EXPECT_EQ(r.json()["tokens"][0]["token_id"], a["token_id"]);
  EXPECT_EQ(r.json()["tokens"][0]["description"], "mine");
  EXPECT_EQ(as("deployer").get("/api/security/token").json()["tokens"].size(), 2u);
  EXPECT_EQ(as("manager").get("/api/security/token").json()["tokens"].size(), 0u);
}

TEST_F(AccessTokenTest, RevokedTokensStopWorking) {
  J mine = create("reader"), theirs = create("deployer");
  std::string id = mine["token_id"], secret = mine["access_token"];
  ASSERT_EQ(with("reader", secret).get("/v2/").status, 200);
  // Not by someone else.
  auto r = as("reader").del("/api/security/token/" + theirs["token_id"].get<std::string>());
  EXPECT_TRUE(r.status == 403 || r.status == 404) << r.describe();
  EXPECT_EQ(with("deployer", theirs["access_token"]).get("/v2/").status, 200);
  EXPECT_API_ERROR(as("reader").del("/api/security/token/nosuch"), 404, "NOT_FOUND");
  // By its owner.
  EXPECT_EQ(as("reader").del("/api/security/token/" + id).status, 204);
  EXPECT_API_ERROR(with("reader", secret).get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_EQ(with("reader", secret).get("/v2/token?service=x").status, 401);
  EXPECT_EQ(as("reader").get("/api/security/token").json()["tokens"].size(), 0u);
  EXPECT_EQ(as("reader").del("/api/security/token/" + id).status, 404);
  // By an admin; and revocation survives a restart.
  EXPECT_EQ(as("root").del("/api/security/token/" + theirs["token_id"].get<std::string>()).status, 204);
  J kept = create("reader");
  restartDaemon();
  EXPECT_EQ(with("deployer", theirs["access_token"]).get("/v2/").status, 401);
  EXPECT_EQ(with("reader", secret).get("/v2/").status, 401);
  EXPECT_EQ(with("reader", kept["access_token"]).get("/v2/").status, 200) << "tokens persist";
}

TEST_F(AccessTokenTest, DeletingAUserKillsItsTokensForGood) {
  ASSERT_EQ(as("root").put("/api/security/users/bob", J({{"password", "Bob-Pass-1"}}).dump(), kJson).status, 201);
  auto r = http_.post("/api/security/token", "{}",
                      {{"Authorization", basic("bob", "Bob-Pass-1")}, {"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.describe();
  std::string secret = r.json()["access_token"];
  ASSERT_EQ(with("bob", secret).get("/v2/").status, 200);
  ASSERT_EQ(as("root").del("/api/security/users/bob").status, 204);
  EXPECT_EQ(with("bob", secret).get("/v2/").status, 401);
  // A new user of the same name must not inherit the old user's tokens.
  ASSERT_EQ(as("root").put("/api/security/users/bob", J({{"password", "Bob-Pass-2"}}).dump(), kJson).status, 201);
  EXPECT_EQ(with("bob", secret).get("/v2/").status, 401) << "the deleted user's token came back to life";
  auto list = as("root").get("/api/security/token").json()["tokens"];
  for (const auto& t : list) EXPECT_NE(t["user"], "bob") << list;
}

TEST_F(AccessTokenTest, TokensExpire) {
  // Expiry has a resolution of seconds: 3 s leave a slow (sanitized) first
  // use at least 2 s before the token dies, whenever in a second it was made.
  J t = create("reader", {{"expires_in", 3}});
  EXPECT_EQ(t["expires_in"], 3);
  std::string secret = t["access_token"];
  EXPECT_EQ(with("reader", secret).get("/v2/").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(4100));
  EXPECT_API_ERROR(with("reader", secret).get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_EQ(with("reader", secret).get("/v2/token?service=x").status, 401);
}

}  // namespace
}  // namespace berth::it

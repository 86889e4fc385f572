// The security REST API (/api/security/{users,groups,permissions}): admin
// only, CRUD, validation, immediate effect, persistence across restarts, no
// secrets in answers or logs; and the initial administrator.
#include <sys/stat.h>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};

class SecurityApiTest : public SecureTest {
 protected:
  Response put(const std::string& path, const J& body, const std::string& who = "root") {
    return as(who).put("/api/security/" + path, body.dump(), kJson);
  }
  Response get(const std::string& path, const std::string& who = "root") {
    return as(who).get("/api/security/" + path);
  }
  Response del(const std::string& path, const std::string& who = "root") {
    return as(who).del("/api/security/" + path);
  }
  int login(const std::string& user, const std::string& password) {
    return http_.get("/v2/", {{"Authorization", basic(user, password)}}).status;
  }
};

TEST_F(SecurityApiTest, OnlyAdministratorsMayUseIt) {
  for (const char* path : {"users", "users/reader", "groups", "permissions", "permissions/dev"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(get(path).status, 200);
    EXPECT_EQ(get(path, "opsguy").status, 200) << "member of an admin group";
    EXPECT_API_ERROR(get(path, "manager"), 403, "DENIED");
    EXPECT_API_ERROR(get(path, "reader"), 403, "DENIED");
    EXPECT_API_ERROR(anon().get(std::string("/api/security/") + path), 401, "UNAUTHORIZED");
    EXPECT_API_ERROR(http_.get(std::string("/api/security/") + path, {{"Authorization", basic("root", "x")}}), 401,
                     "UNAUTHORIZED");
  }
  EXPECT_API_ERROR(put("users/evil", {{"password", "p"}, {"admin", true}}, "manager"), 403, "DENIED");
  EXPECT_API_ERROR(
      put("permissions/dev", {{"repositories", {"docker-prod"}}, {"users", {{"reader", {"delete"}}}}}, "reader"), 403,
      "DENIED");
  EXPECT_API_ERROR(del("users/root", "deleter"), 403, "DENIED");
  EXPECT_EQ(login("evil", "p"), 401);
  EXPECT_EQ(as("reader").getManifest("/v2/docker-prod/x", "1").status, 403);
  EXPECT_EQ(as("root").get("/artifactory/api/security/users").status, 200);
  // RFC 9110: a 401 carries a challenge (Artifactory sends Basic here).
  for (const char* path : {"/api/security/users", "/api/security/token", "/v2/auth"}) {
    auto r = anon().get(path);
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.header("WWW-Authenticate"), "") << path << ": " << r.describe();
  }
}

TEST_F(SecurityApiTest, UsersCrudWithoutEverReturningHashes) {
  auto r = put("users/carol", {{"password", "Carol-Secret-1"}, {"groups", {"devs"}}});
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.json(), J({{"name", "carol"}, {"groups", {"devs"}}, {"admin", false}})) << r.body;
  EXPECT_EQ(login("carol", "Carol-Secret-1"), 200);
  EXPECT_EQ(as("root").get("/v2/").status, 200);
  // Group membership takes effect at once: devs may deploy on docker-dev.
  EXPECT_EQ(http_
                .post("/v2/docker-dev/app/blobs/uploads/?digest=" + sha256Of("c"), "c",
                      {{"Authorization", basic("carol", "Carol-Secret-1")}})
                .status,
            201);
  r = get("users/carol");
  EXPECT_EQ(r.json()["groups"], J({"devs"}));
  r = get("users");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.json().is_array()) << r.body;
  EXPECT_EQ(r.json().size(), 11u) << r.body;  // 10 from the config and carol
  for (const auto& body : {r.body, get("users/carol").body, get("users/root").body}) {
    EXPECT_EQ(body.find("$2"), std::string::npos) << body;
    EXPECT_EQ(body.find("password"), std::string::npos) << body;
  }
  // Replace: 200; a new password works at once and the old one no longer.
  r = put("users/carol", {{"password", "Carol-Secret-2"}, {"groups", J::array()}});
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(login("carol", "Carol-Secret-1"), 401);
  EXPECT_EQ(login("carol", "Carol-Secret-2"), 200);
  // Without a password the old one stays; admin can be granted.
  EXPECT_EQ(put("users/carol", {{"admin", true}}).status, 200);
  EXPECT_EQ(login("carol", "Carol-Secret-2"), 200);
  EXPECT_EQ(http_.get("/api/security/users", {{"Authorization", basic("carol", "Carol-Secret-2")}}).status, 200);
  // A bcrypt hash is accepted as is ($2y$ from htpasswd).
  EXPECT_EQ(put("users/alice", {{"password_hash", userHashes().at("alice")}}).status, 201);
  EXPECT_EQ(login("alice", "alice-pw"), 200);
  // Delete.
  EXPECT_EQ(del("users/carol").status, 204);
  EXPECT_EQ(login("carol", "Carol-Secret-2"), 401);
  EXPECT_API_ERROR(get("users/carol"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(del("users/carol"), 404, "NOT_FOUND");
}

TEST_F(SecurityApiTest, BadBodiesAre400AndChangeNothing) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"users/dan", "not json"},
      {"users/dan", "[1,2]"},
      {"users/dan", R"({"groups":"devs"})"},
      {"users/dan", R"({"admin":"yes"})"},
      {"users/dan", R"({"password_hash":"plaintext"})"},
      {"users/anonymous", R"({"password":"x"})"},
      {"users/bad%20name", R"({"password":"x"})"},
      {"groups/g", R"({"admin":1})"},
      {"permissions/p", R"({"repositories":["nosuch"]})"},
      {"permissions/p", R"({"repositories":"docker-dev"})"},
      {"permissions/p", R"({"repositories":["docker-dev"],"users":{"reader":["fly"]}})"},
      {"permissions/p", R"({"repositories":["docker-dev"],"users":{"reader":"read"}})"},
      {"permissions/p", R"({"repositories":["docker-dev"],"include":[1]})"},
  };
  for (const auto& [path, body] : bad) {
    SCOPED_TRACE(path + " " + body);
    EXPECT_API_ERROR(as("root").put("/api/security/" + path, body, kJson), 400, "BAD_REQUEST");
  }
  EXPECT_EQ(get("users/dan").status, 404);
  EXPECT_EQ(get("groups/g").status, 404);
  EXPECT_EQ(get("permissions/p").status, 404);
  EXPECT_API_ERROR(get("nosuchkind"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(get("groups/nosuch"), 404, "NOT_FOUND");
  EXPECT_API_ERROR(get("permissions/nosuch"), 404, "NOT_FOUND");
}

TEST_F(SecurityApiTest, GroupsAndPermissionsTakeEffectAtOnceAndSurviveRestart) {
  ASSERT_EQ(put("users/bob", {{"password", "Bob-Pass-1"}, {"groups", {"qa"}}}).status, 201);
  auto r = put("groups/qa", {{"description", "quality"}, {"admin", false}});
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.json(), J({{"name", "qa"}, {"description", "quality"}, {"admin", false}}));
  As bob(http_, {{"Authorization", basic("bob", "Bob-Pass-1")}});
  EXPECT_EQ(bob.pushBlob("/v2/docker-prod/qa/tool", "q").status, 403);
  J perm{{"repositories", {"docker-prod"}},
         {"include", {"qa/**"}},
         {"exclude", J::array()},
         {"users", J::object()},
         {"groups", {{"qa", {"deploy"}}}}};
  r = put("permissions/qa-deploy", perm);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.json()["groups"], J({{"qa", {"deploy"}}})) << r.body;
  EXPECT_EQ(bob.pushBlob("/v2/docker-prod/qa/tool", "q").status, 201);
  EXPECT_EQ(bob.pushBlob("/v2/docker-prod/other", "q").status, 403);
  EXPECT_EQ(get("permissions").json().size(), 5u);

  restartDaemon();
  As bob2(http_, {{"Authorization", basic("bob", "Bob-Pass-1")}});
  EXPECT_EQ(bob2.getBlob("/v2/docker-prod/qa/tool", sha256Of("q")).status, 200) << "user, group, permission persisted";
  EXPECT_EQ(get("groups/qa").json()["description"], "quality");
  EXPECT_EQ(get("permissions/qa-deploy").json()["include"], J({"qa/**"}));
  EXPECT_EQ(get("users/bob").json()["groups"], J({"qa"}));

  // Replacing the permission narrows at once; deleting removes it, and that persists too.
  perm["groups"] = {{"qa", {"read"}}};
  EXPECT_EQ(put("permissions/qa-deploy", perm).status, 200);
  EXPECT_EQ(bob2.pushBlob("/v2/docker-prod/qa/tool", "r").status, 403);
  EXPECT_EQ(bob2.getBlob("/v2/docker-prod/qa/tool", sha256Of("q")).status, 200);
  EXPECT_EQ(del("permissions/qa-deploy").status, 204);
  EXPECT_EQ(bob2.getBlob("/v2/docker-prod/qa/tool", sha256Of("q")).status, 403);
  // An admin group makes its members admins; deleting it takes that away.
  EXPECT_EQ(put("groups/qa", {{"admin", true}}).status, 200);
  EXPECT_EQ(bob2.get("/api/security/users").status, 200);
  EXPECT_EQ(del("groups/qa").status, 204);
  EXPECT_EQ(bob2.get("/api/security/users").status, 403);
  EXPECT_EQ(del("users/bob").status, 204);
  restartDaemon();
  EXPECT_EQ(login("bob", "Bob-Pass-1"), 401);
  EXPECT_EQ(get("permissions/qa-deploy").status, 404);
  EXPECT_EQ(get("groups/qa").status, 404);
}

TEST_F(SecurityApiTest, NoPasswordOrHashReachesTheLog) {
  ASSERT_EQ(put("users/dan", {{"password", "Dan-Very-Secret-77"}}).status, 201);
  EXPECT_EQ(login("dan", "Dan-Very-Secret-77"), 200);
  EXPECT_EQ(login("dan", "Dan-Wrong-Guess-88"), 401);
  EXPECT_EQ(login("root", "Root-Wrong-Guess-99"), 401);
  as("reader").getManifest("/v2/docker-prod/x", "1");
  std::string log = daemon_.log();
  for (const char* secret :
       {"Dan-Very-Secret-77", "Dan-Wrong-Guess-88", "Root-Wrong-Guess-99", "$2y$", "$2b$", "reader-pw", "root-pw"})
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log:\n" << log;
  EXPECT_NE(log.find("auth failure"), std::string::npos) << log;
}

// ---- the initial administrator ----

class InitialAdminTest : public SecureTest {
 protected:
  void SetUp() override {
    opts_.standard_users = false;
    opts_.extra_users = userYaml("alice");  // a user, but no admin
    SecureTest::SetUp();
  }
  std::string passwordFile() const { return daemon_.storageRoot() + "/initial-admin-password"; }
  static std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
  }
};

TEST_F(InitialAdminTest, IsCreatedOnceWithAPrivatePasswordFile) {
  struct stat st {};
  ASSERT_EQ(::stat(passwordFile().c_str(), &st), 0) << "no " << passwordFile();
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string password = readFile(passwordFile());
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  ASSERT_GE(password.size(), 12u) << "'" << password << "'";
  ASSERT_EQ(::stat((daemon_.storageRoot() + "/token-signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  As admin(http_, {{"Authorization", basic("admin", password)}});
  auto r = admin.get("/api/security/users/admin");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["admin"], true);
  EXPECT_EQ(admin.pushImage("/v2/docker-prod/x", makeImage(), "1").status, 201);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("admin", "admin")}}).status, 401);
  EXPECT_EQ(count(daemon_.log(), password), 1u) << "logged once:\n" << daemon_.log();

  // A restart neither makes another admin nor logs the password again.
  restartDaemon();
  EXPECT_EQ(readFile(passwordFile()), password + "\n");
  As admin2(http_, {{"Authorization", basic("admin", password)}});
  EXPECT_EQ(admin2.get("/api/security/users").status, 200);
  EXPECT_EQ(admin2.get("/api/security/users").json().size(), 2u);  // admin and alice
  EXPECT_EQ(count(daemon_.log(), password), 1u) << daemon_.log();
  EXPECT_EQ(count(daemon_.log(), "initial administrator"), 1u) << daemon_.log();
}

TEST_F(InitialAdminTest, ChangingTheInitialPasswordRetiresTheOldOne) {
  std::string password = readFile(passwordFile());
  password.erase(password.find_last_not_of("\r\n") + 1);
  As admin(http_, {{"Authorization", basic("admin", password)}});
  ASSERT_EQ(admin.put("/api/security/users/admin", J({{"password", "A-New-Admin-Pass"}, {"admin", true}}).dump(), kJson)
                .status,
            200);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("admin", password)}}).status, 401);
  restartDaemon();
  EXPECT_EQ(http_.get("/api/security/users", {{"Authorization", basic("admin", "A-New-Admin-Pass")}}).status, 200);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("admin", password)}}).status, 401);
}

}  // namespace
}  // namespace berth::it

// Access control: the Bearer challenge, every permission action of the ladder
// (read < annotate < deploy < delete < manage, admin), groups, include/exclude
// patterns, ANY targets, anonymous access on and off, force_authentication.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

const std::string kDev = "/v2/docker-dev/app";

class AuthTest : public SecureTest {
 protected:
  // A tagged image in docker-dev/app (pushed by the admin), whose digest is returned.
  Image seedDev(const std::string& tag = "1") {
    Image img = makeImage();
    auto r = as("root").pushImage(kDev, img, tag);
    EXPECT_EQ(r.status, 201) << r.describe();
    return img;
  }
  std::string challenge(const Response& r) { return r.header("WWW-Authenticate"); }
  std::string realm(const std::string& family = "/v2") {
    return "Bearer realm=\"http://" + hostPort() + family + "/token\",service=\"" + hostPort() + "\"";
  }
};

TEST_F(AuthTest, BaseEndpointAlwaysChallengesWithoutCredentials) {
  for (const char* target : {"/v2/", "/v2"}) {
    auto r = http_.get(target);
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
    EXPECT_EQ(challenge(r), realm()) << r.describe();
  }
  EXPECT_EQ(http_.head("/v2/").status, 401);
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
  EXPECT_EQ(as("root").get("/v2/").status, 200);
}

TEST_F(AuthTest, BadCredentialsOnTheBaseEndpointAre401) {
  const std::vector<std::string> bad{basic("reader", "wrong"),
                                     basic("nobody", "x"),
                                     basic("reader", ""),
                                     basic("", "reader-pw"),
                                     "Basic !!!notbase64!!!",
                                     "Basic " + base64("nocolon"),
                                     "Bearer garbage",
                                     "Bearer ",
                                     "Digest username=\"reader\"",
                                     "Basic"};
  for (const auto& h : bad) {
    SCOPED_TRACE(h);
    auto r = http_.get("/v2/", {{"Authorization", h}});
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  }
  EXPECT_NE(daemon_.log().find("auth failure from 127.0.0.1"), std::string::npos)
      << "failures are logged with the address";
}

TEST_F(AuthTest, PasswordsAreCheckedExactly) {
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("reader", "reader-pw ")}}).status, 401);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("reader", "Reader-pw")}}).status, 401);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("READER", "reader-pw")}}).status, 401);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("reader", "reader-pw")}}).status, 200);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", "basic " + base64("reader:reader-pw")}}).status, 200);
}

TEST_F(AuthTest, ChallengeScopeFollowsTheMethodAndTheRouteFamily) {
  const std::string digest = sha256Of("x");
  struct Case {
    std::string method, target, challenge;
  } cases[] = {
      {"GET", "/v2/docker-prod/app/manifests/1", realm() + ",scope=\"repository:docker-prod/app:pull\""},
      {"HEAD", "/v2/docker-prod/team/app/blobs/" + digest, realm() + ",scope=\"repository:docker-prod/team/app:pull\""},
      {"GET", "/v2/docker-prod/app/tags/list", realm() + ",scope=\"repository:docker-prod/app:pull\""},
      {"POST", "/v2/docker-prod/app/blobs/uploads/", realm() + ",scope=\"repository:docker-prod/app:pull,push\""},
      {"PUT", "/v2/docker-prod/app/manifests/1", realm() + ",scope=\"repository:docker-prod/app:pull,push\""},
      {"DELETE", "/v2/docker-prod/app/manifests/" + digest, realm() + ",scope=\"repository:docker-prod/app:delete\""},
      {"GET", "/api/docker/docker-prod/v2/app/manifests/1",
       realm("/api/docker/docker-prod/v2") + ",scope=\"repository:app:pull\""},
      {"GET", "/artifactory/api/docker/docker-prod/v2/app/manifests/1",
       realm("/artifactory/api/docker/docker-prod/v2") + ",scope=\"repository:app:pull\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    Request req;
    req.method = c.method;
    req.target = c.target;
    auto r = http_.send(req);
    EXPECT_EQ(r.status, 401) << r.describe();
    EXPECT_EQ(challenge(r), c.challenge);
    if (c.method != "HEAD") {
      EXPECT_EQ(r.errorCode(), "UNAUTHORIZED");
    }
  }
}

TEST_F(AuthTest, ReadAllowsPullingAndNothingElse) {
  Image img = seedDev();
  As reader = as("reader");
  EXPECT_EQ(reader.getManifest(kDev, "1").body, img.manifest.bytes);
  EXPECT_EQ(reader.getManifest(kDev, img.manifest.digest).status, 200);
  EXPECT_EQ(reader.headManifest(kDev, "1").status, 200);
  EXPECT_EQ(reader.getBlob(kDev, img.layers[0].digest).body, img.layers[0].bytes);
  EXPECT_EQ(reader.head(kDev + "/blobs/" + img.config.digest).status, 200);
  EXPECT_EQ(reader.get(kDev + "/tags/list").json()["tags"], nlohmann::json::array({"1"}));

  Image other = makeImage();
  EXPECT_API_ERROR(reader.pushBlob(kDev, other.config.bytes), 403, "DENIED");
  EXPECT_API_ERROR(reader.post(kDev + "/blobs/uploads/"), 403, "DENIED");
  EXPECT_API_ERROR(reader.putManifest(kDev, "2", other.manifest), 403, "DENIED");
  EXPECT_API_ERROR(reader.del(kDev + "/manifests/" + img.manifest.digest), 403, "DENIED");
  EXPECT_API_ERROR(reader.del(kDev + "/blobs/" + img.layers[0].digest), 403, "DENIED");
  EXPECT_EQ(as("root").getManifest(kDev, "1").status, 200) << "still there";
  EXPECT_EQ(as("root").head(kDev + "/blobs/" + other.config.digest).status, 404) << "nothing stored";
}

TEST_F(AuthTest, AnnotateIncludesReadButNotDeploy) {
  Image img = seedDev();
  As annotator = as("annotator");
  EXPECT_EQ(annotator.getManifest(kDev, "1").status, 200);
  EXPECT_EQ(annotator.getBlob(kDev, img.layers[1].digest).status, 200);
  EXPECT_API_ERROR(annotator.pushBlob(kDev, "x"), 403, "DENIED");
  EXPECT_API_ERROR(annotator.putManifest(kDev, "2", img.manifest), 403, "DENIED");
}

TEST_F(AuthTest, DeployPushesNewTagsButNeitherOverwritesNorDeletes) {
  Image img = makeImage();
  As deployer = as("deployer");
  auto r = deployer.pushImage(kDev, img, "1");
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(deployer.getManifest(kDev, "1").body, img.manifest.bytes);
  // Same content again, and another tag for it: no overwrite, so allowed.
  EXPECT_EQ(deployer.putManifest(kDev, "1", img.manifest).status, 201);
  EXPECT_EQ(deployer.putManifest(kDev, "also", img.manifest).status, 201);
  // Moving the tag to other content is an overwrite: it needs delete.
  Image next = makeImage();
  ASSERT_EQ(deployer.pushImage(kDev, next, next.manifest.digest).status, 201);
  EXPECT_API_ERROR(deployer.putManifest(kDev, "1", next.manifest), 403, "DENIED");
  EXPECT_EQ(deployer.getManifest(kDev, "1").header("Docker-Content-Digest"), img.manifest.digest);
  EXPECT_API_ERROR(deployer.del(kDev + "/manifests/" + img.manifest.digest), 403, "DENIED");
  EXPECT_API_ERROR(deployer.del(kDev + "/manifests/1"), 403, "DENIED");
  EXPECT_API_ERROR(deployer.del(kDev + "/blobs/" + img.layers[0].digest), 403, "DENIED");
  EXPECT_EQ(deployer.getManifest(kDev, img.manifest.digest).status, 200);
}

TEST_F(AuthTest, DeployCoversChunkedUploadsButNotOtherRepositories) {
  As deployer = as("deployer");
  auto r = deployer.post(kDev + "/blobs/uploads/");
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string location = pathOf(r.header("Location"));
  // The session cannot be driven by someone without deploy.
  EXPECT_API_ERROR(as("reader").send("PATCH", location, "abc"), 403, "DENIED");
  EXPECT_EQ(anon().send("PATCH", location, "abc").status, 401);
  r = deployer.send("PATCH", location, "abc", {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 202) << r.describe();
  r = deployer.put(withQuery(pathOf(r.header("Location")), "digest=" + sha256Of("abc")));
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_API_ERROR(deployer.pushBlob("/v2/docker-local/app", "x"), 403, "DENIED");
  EXPECT_API_ERROR(deployer.pushBlob("/v2/docker-prod/app", "x"), 403, "DENIED");
}

TEST_F(AuthTest, DeleteAndManageMayOverwriteAndDelete) {
  for (const char* user : {"deleter", "manager", "root", "opsguy"}) {
    SCOPED_TRACE(user);
    As u = as(user);
    Image a = makeImage(), b = makeImage();
    ASSERT_EQ(u.pushImage(kDev, a, "t").status, 201);
    ASSERT_EQ(u.pushImage(kDev, b, "t").status, 201) << "overwrite";
    EXPECT_EQ(u.getManifest(kDev, "t").header("Docker-Content-Digest"), b.manifest.digest);
    EXPECT_EQ(u.del(kDev + "/manifests/" + b.manifest.digest).status, 202);
    EXPECT_EQ(u.getManifest(kDev, "t").status, 404);
    EXPECT_EQ(u.del(kDev + "/blobs/" + a.layers[0].digest).status, 202);
  }
}

TEST_F(AuthTest, AdminsAndAdminGroupMembersMayDoEverythingEverywhere) {
  for (const char* user : {"root", "opsguy"})
    for (const char* repo : {"docker-local", "docker-dev", "docker-prod"}) {
      SCOPED_TRACE(std::string(user) + " " + repo);
      std::string url = std::string("/v2/") + repo + "/any/thing";
      Image img = makeImage();
      EXPECT_EQ(as(user).pushImage(url, img, "1").status, 201);
      EXPECT_EQ(as(user).getManifest(url, "1").status, 200);
      EXPECT_EQ(as(user).del(url + "/manifests/" + img.manifest.digest).status, 202);
    }
}

TEST_F(AuthTest, GroupGrantsApplyToMembers) {
  As grouped = as("grouped");
  EXPECT_EQ(grouped.pushImage(kDev, makeImage(), "g").status, 201);
  EXPECT_EQ(grouped.getManifest(kDev, "g").status, 200);
  EXPECT_API_ERROR(grouped.pushBlob("/v2/docker-local/app", "x"), 403, "DENIED");
  EXPECT_API_ERROR(grouped.get("/api/security/users"), 403, "DENIED");
}

TEST_F(AuthTest, IncludeAndExcludePatterns) {
  As patterned = as("patterned");
  for (const char* name : {"team/a", "team/a/b/c", "app", "img-1", "team/secrets-not/x"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(patterned.pushBlob(std::string("/v2/docker-local/") + name, "x").status, 201);
  }
  for (const char* name : {"team/secret", "team/secret-x", "other", "app/sub", "img-12", "teams/a"}) {
    SCOPED_TRACE(name);
    EXPECT_API_ERROR(patterned.pushBlob(std::string("/v2/docker-local/") + name, "x"), 403, "DENIED");
    EXPECT_API_ERROR(patterned.getBlob(std::string("/v2/docker-local/") + name, sha256Of("x")), 403, "DENIED");
  }
  EXPECT_API_ERROR(patterned.pushBlob("/v2/docker-dev/app", "x"), 403, "DENIED");
}

TEST_F(AuthTest, AnonymousReadsWhatPermissionsGrantWithoutAToken) {
  Image img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/base", img, "1").status, 201);
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/private", img, "1").status, 201);
  EXPECT_EQ(anon().getManifest("/v2/docker-local/public/base", "1").body, img.manifest.bytes);
  EXPECT_EQ(anon().getBlob("/v2/docker-local/public/base", img.layers[0].digest).status, 200);
  EXPECT_EQ(anon().get("/v2/docker-local/public/base/tags/list").status, 200);
  EXPECT_API_ERROR(anon().getManifest("/v2/docker-local/private", "1"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(anon().pushBlob("/v2/docker-local/public/base", "x"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(anon().del("/v2/docker-local/public/base/manifests/" + img.manifest.digest), 401, "UNAUTHORIZED");
  // An anonymous token grants the same: pull on public, nothing on private.
  std::string token =
      dockerToken("", {"repository:docker-local/public/base:pull,push", "repository:docker-local/private:pull"});
  auto access = Jwt::split(token).claims()["access"];
  ASSERT_EQ(access.size(), 2u) << access;
  EXPECT_EQ(access[0]["actions"], nlohmann::json::array({"pull"})) << access;
  EXPECT_EQ(access[1]["actions"], nlohmann::json::array()) << access;
  EXPECT_EQ(withBearer(token).getManifest("/v2/docker-local/public/base", "1").status, 200);
  EXPECT_EQ(withBearer(token).getManifest("/v2/docker-local/private", "1").status, 401);
}

TEST_F(AuthTest, AnyAndAnyLocalTargets) {
  opts_.extra_users = userYaml("alice") + userYaml("bob");
  opts_.extra_permissions =
      "    - {name: any, repositories: [ANY], users: {alice: [read]}}\n"
      "    - {name: anylocal, repositories: [ANY LOCAL], users: {bob: [deploy]}}\n";
  restartDaemon();
  for (const char* repo : {"docker-local", "docker-dev", "docker-prod"}) {
    SCOPED_TRACE(repo);
    std::string url = std::string("/v2/") + repo + "/x";
    EXPECT_EQ(as("bob").pushBlob(url, "x").status, 201);
    EXPECT_EQ(as("alice").getBlob(url, sha256Of("x")).status, 200);
    EXPECT_API_ERROR(as("alice").pushBlob(url, "y"), 403, "DENIED");
  }
}

class AnonymousOffTest : public AuthTest {
 protected:
  void SetUp() override {
    opts_.anonymous_access = false;
    AuthTest::SetUp();
  }
};

TEST_F(AnonymousOffTest, AnonymousGetsNothingEvenWhereAPermissionNamesIt) {
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/base", makeImage(), "1").status, 201);
  EXPECT_API_ERROR(anon().getManifest("/v2/docker-local/public/base", "1"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(anon().get("/v2/_catalog"), 401, "UNAUTHORIZED");
  auto r = anon().get("/v2/token?service=" + hostPort() + "&scope=repository:docker-local/public/base:pull");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
  EXPECT_EQ(as("root").getManifest("/v2/docker-local/public/base", "1").status, 200);
}

class ForceAllTest : public AuthTest {
 protected:
  void SetUp() override {
    opts_.force_authentication = "true";
    AuthTest::SetUp();
  }
};

TEST_F(ForceAllTest, AnonymousMustLogInEvenWhereItMayRead) {
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/base", makeImage(), "1").status, 201);
  auto r = anon().getManifest("/v2/docker-local/public/base", "1");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_NE(r.header("WWW-Authenticate").find("scope=\"repository:docker-local/public/base:pull\""), std::string::npos);
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
  EXPECT_EQ(as("root").getManifest("/v2/docker-local/public/base", "1").status, 200);
}

class ForceByRepositoryTest : public AuthTest {
 protected:
  void SetUp() override {
    opts_.force_authentication = "[docker-local]";
    opts_.extra_permissions =
        "    - {name: anon-dev, repositories: [docker-dev], include: [\"public/**\"], "
        "users: {anonymous: [read]}}\n";
    AuthTest::SetUp();
  }
};

TEST_F(ForceByRepositoryTest, OnlyTheNamedRepositoriesAskForCredentials) {
  Image img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/base", img, "1").status, 201);
  ASSERT_EQ(as("root").pushImage("/v2/docker-dev/public/base", img, "1").status, 201);
  EXPECT_API_ERROR(anon().getManifest("/v2/docker-local/public/base", "1"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(anon().getBlob("/v2/docker-local/public/base", img.config.digest), 401, "UNAUTHORIZED");
  EXPECT_EQ(anon().getManifest("/v2/docker-dev/public/base", "1").status, 200);
  EXPECT_EQ(anon().getBlob("/v2/docker-dev/public/base", img.config.digest).status, 200);
  EXPECT_EQ(as("reader").getManifest("/v2/docker-dev/public/base", "1").status, 200);
  EXPECT_EQ(as("patterned").getManifest("/v2/docker-local/app", "1").status, 404);  // allowed, just absent
}

}  // namespace
}  // namespace berth::it

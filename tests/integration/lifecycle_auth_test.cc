// Permissions of promotion and deletion (docs/lifecycle.md): read on the
// source and deploy on the target, delete on the source for a move and on the
// target to repoint a tag; delete for the Artifactory DELETE routes. Every
// refusal changes nothing.
#include "integration/auth_support.h"
#include "integration/lifecycle_support.h"

namespace berth::it {
namespace {

using namespace authit;
using lifeit::expectPulls;
using nlohmann::json;

// The standard model (auth_support.h) plus:
//   alice:    read docker-dev, deploy docker-prod
//   bob:      delete docker-dev, deploy docker-prod, delete docker-local team/**
//   prodonly: read docker-dev (and, standard, delete docker-prod)
class LifecycleAuthTest : public SecureTest {
 protected:
  void SetUp() override {
    opts_.extra_users = userYaml("alice") + userYaml("bob");
    opts_.extra_permissions =
        "    - name: dev-readers\n      repositories: [docker-dev]\n      users: {alice: [read], prodonly: [read]}\n"
        "    - name: prod-deployers\n      repositories: [docker-prod]\n      users: {alice: [deploy], bob: [deploy]}\n"
        "    - name: bob-dev\n      repositories: [docker-dev]\n      users: {bob: [delete]}\n"
        "    - name: bob-team\n      repositories: [docker-local]\n      include: [\"team/**\"]\n"
        "      users: {bob: [delete]}\n";
    SecureTest::SetUp();
    ASSERT_EQ(as("root").pushImage(kDev, one_, "1").status, 201);
    ASSERT_EQ(as("root").pushImage(kProd, other_, "taken").status, 201);
  }
  Response promoteAs(const As& who, const json& body, const std::string& source = "docker-dev") {
    return who.post("/api/docker/" + source + "/v2/promote", body.dump(), {{"Content-Type", "application/json"}});
  }
  json state() {
    HttpClient admin(daemon_.host(), daemon_.port());
    admin.setDefaultHeaders(basicAuth("root"));
    return lifeit::snapshot(admin, {"docker-local", "docker-dev", "docker-prod"});
  }
  static json copyOne(const std::string& target_tag = "1") {
    return {{"targetRepo", "docker-prod"}, {"dockerRepository", "app"}, {"tag", "1"}, {"targetTag", target_tag},
            {"copy", true}};
  }

  const std::string kDev = "/v2/docker-dev/app", kProd = "/v2/docker-prod/app";
  Image one_ = makeImage(), other_ = makeImage();
};

TEST_F(LifecycleAuthTest, PromotionNeedsReadOnTheSourceAndDeployOnTheTarget) {
  const json before = state();
  ASSERT_EQ(before["docker-dev/app"]["1"], one_.manifest.digest) << before.dump();
  ASSERT_EQ(before["docker-prod/app"]["taken"], other_.manifest.digest) << before.dump();
  auto r = promoteAs(anon(), copyOne());
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Basic realm=\"Berth\"") << "a REST route: curl -u";
  EXPECT_API_ERROR(promoteAs(as("deleter"), copyOne()), 403, "DENIED") << "nothing on docker-prod";
  EXPECT_API_ERROR(promoteAs(as("reader"), copyOne()), 403, "DENIED");
  EXPECT_API_ERROR(promoteAs(as("prodonly"), copyOne(), "docker-local"), 403, "DENIED") << "no read on the source";
  // An unknown target answers as a forbidden one to who may not deploy there.
  json unknown = copyOne();
  unknown["targetRepo"] = "nope";
  EXPECT_API_ERROR(promoteAs(as("alice"), unknown), 403, "DENIED");
  EXPECT_API_ERROR(promoteAs(as("root"), unknown), 404, "NAME_UNKNOWN");
  EXPECT_EQ(state(), before);
  r = promoteAs(as("alice"), copyOne());
  ASSERT_EQ(r.status, 200) << r.describe();
  ImageClient prod(http_, kProd);
  http_.setDefaultHeaders(basicAuth("root"));
  expectPulls(prod, one_, "1");
}

TEST_F(LifecycleAuthTest, AMoveNeedsDeleteOnTheSource) {
  json move = copyOne();
  move["copy"] = false;
  const json before = state();
  EXPECT_API_ERROR(promoteAs(as("alice"), move), 403, "DENIED");
  EXPECT_EQ(state(), before);
  auto r = promoteAs(as("bob"), move);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(as("root").getManifest(kDev, "1").status, 404);
  EXPECT_EQ(as("root").getManifest(kProd, "1").status, 200);
}

TEST_F(LifecycleAuthTest, RepointingATargetTagNeedsDeleteThere) {
  const json before = state();
  EXPECT_API_ERROR(promoteAs(as("alice"), copyOne("taken")), 403, "DENIED");
  EXPECT_API_ERROR(promoteAs(as("bob"), copyOne("taken")), 403, "DENIED");
  EXPECT_EQ(state(), before);
  // A tag that already names the same manifest is no overwrite.
  ASSERT_EQ(promoteAs(as("alice"), copyOne("same")).status, 200);
  EXPECT_EQ(promoteAs(as("alice"), copyOne("same")).status, 200);
  auto r = promoteAs(as("prodonly"), copyOne("taken"));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["overwrittenTags"], json::array({"taken"}));
  EXPECT_EQ(as("root").getManifest(kProd, "taken").header("Docker-Content-Digest"), one_.manifest.digest);
}

TEST_F(LifecycleAuthTest, BearerTokensNeedTheirScopeOnBothSides) {
  std::string narrow = dockerToken("alice", {"repository:docker-dev/app:pull"});
  auto r = promoteAs(withBearer(narrow), copyOne());
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(as("root").getManifest(kProd, "1").status, 404);
  std::string both = dockerToken("alice", {"repository:docker-dev/app:pull", "repository:docker-prod/app:push"});
  r = promoteAs(withBearer(both), copyOne());
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST_F(LifecycleAuthTest, DeletingNeedsDelete) {
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/team/app", one_, "1").status, 201);
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/app", one_, "1").status, 201);
  const json before = state();
  auto r = anon().del("/artifactory/docker-dev/app/1");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Basic realm=\"Berth\"");
  for (const char* who : {"reader", "deployer", "alice"}) {
    SCOPED_TRACE(who);
    EXPECT_API_ERROR(as(who).del("/artifactory/docker-dev/app/1"), 403, "DENIED");
    EXPECT_API_ERROR(as(who).del("/artifactory/docker-dev/app"), 403, "DENIED");
  }
  EXPECT_API_ERROR(as("bob").del("/artifactory/docker-local/app/1"), 403, "DENIED") << "outside team/**";
  EXPECT_API_ERROR(as("reader").del("/artifactory/nope/app/1"), 403, "DENIED") << "an unknown key, as a forbidden one";
  EXPECT_API_ERROR(as("root").del("/artifactory/nope/app/1"), 404, "NAME_UNKNOWN");
  EXPECT_EQ(state(), before);
  EXPECT_EQ(as("deleter").del("/artifactory/docker-dev/app/1").status, 204);
  EXPECT_EQ(as("bob").del("/artifactory/docker-local/team/app").status, 204);
  EXPECT_EQ(as("root").getManifest("/v2/docker-local/team/app", "1").status, 404);
  EXPECT_EQ(as("root").getManifest("/v2/docker-local/app", "1").status, 200);
}

}  // namespace
}  // namespace berth::it

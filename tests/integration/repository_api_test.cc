// The repository management API against the real daemon (issue 10,
// docs/api.md "Repositories"): Artifactory's JSON, repositories that serve at
// once, persist across restarts and reloads, leave their content behind when
// deleted, and only for those who may manage them.
#include <filesystem>

#include "integration/auth_support.h"

namespace berth::it {
namespace {

using authit::As;
using nlohmann::json;

class RepositoryApiTest : public authit::SecureTest {
 protected:
  RepositoryApiTest() {
    // alice may manage any repository (a permission on ANY), bob nothing.
    opts_.extra_users = authit::userYaml("alice") + authit::userYaml("bob");
    opts_.extra_permissions = "    - {name: managers, repositories: [ANY], users: {alice: [read, manage]}}\n";
  }
  void SetUp() override {
    writeConfig();
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
  }
  // Collection with no grace period, so that a test can see what a deletion left to it.
  void writeConfig() {
    writeFile(daemon_.configPath(), authit::configYaml(opts_, daemon_.storageRoot()) +
                                        "gc: {interval_minutes: 0, grace_period_minutes: 0}\n");
  }
  void restart() {
    http_.close();
    writeConfig();
    daemon_.restart();
    http_.retarget(daemon_.host(), daemon_.port());
  }
  Response create(const std::string& who, const std::string& key, const json& body) {
    return as(who).put("/api/repositories/" + key, body.dump(), {{"Content-Type", "application/json"}});
  }
  json listed(const std::string& who, const std::string& query = "") {
    auto r = as(who).get("/api/repositories" + query);
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.json();
  }
  static std::vector<std::string> keysOf(const json& list) {
    std::vector<std::string> out;
    for (const auto& r : list) out.push_back(r["key"]);
    return out;
  }
};

TEST_F(RepositoryApiTest, ALocalRepositoryCreatedServesAtOnceAndAfterARestart) {
  auto r = create("root", "docker-team",
                  {{"key", "docker-team"}, {"rclass", "local"}, {"packageType", "docker"}, {"description", "team"},
                   {"maxUniqueTags", 2}, {"xrayIndex", true}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["ignoredFields"], json::array({"xrayIndex"}));
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-team/app", img, "v1").status, 201);
  ASSERT_EQ(as("root").putManifest("/v2/docker-team/app", "v2", img.manifest).status, 201);
  ASSERT_EQ(as("root").putManifest("/v2/docker-team/app", "v3", img.manifest).status, 201);
  auto tags = as("root").get("/v2/docker-team/app/tags/list");
  EXPECT_EQ(tags.json()["tags"], json::array({"v2", "v3"})) << "maxUniqueTags: 2 applies";

  auto got = as("root").get("/artifactory/api/repositories/docker-team");
  ASSERT_EQ(got.status, 200) << got.describe();
  EXPECT_EQ(got.json()["rclass"], "local");
  EXPECT_EQ(got.json()["maxUniqueTags"], 2);
  EXPECT_EQ(got.json()["definedIn"], "api");
  auto all = listed("root");
  EXPECT_EQ(keysOf(all), (std::vector<std::string>{"docker-local", "docker-dev", "docker-prod", "docker-team"}));
  EXPECT_EQ(all[3]["type"], "LOCAL");
  EXPECT_EQ(all[3]["packageType"], "Docker");
  EXPECT_EQ(keysOf(listed("root", "?type=remote")), std::vector<std::string>{});
  EXPECT_EQ(keysOf(listed("root", "?type=LOCAL")).size(), 4u);

  restart();
  EXPECT_EQ(as("root").getManifest("/v2/docker-team/app", "v3").status, 200);
  EXPECT_EQ(as("root").get("/api/repositories/docker-team").json()["description"], "team");
  // A reload of the config file keeps it too.
  auto reload = as("root").post("/api/system/reload");
  ASSERT_EQ(reload.status, 200) << reload.describe();
  EXPECT_EQ(reload.json()["repositories"]["removed"], json::array());
  EXPECT_EQ(as("root").getManifest("/v2/docker-team/app", "v3").status, 200);
}

TEST_F(RepositoryApiTest, UpdateChangesTheFieldsGivenAndTheFilesRepositoriesStayTheFiles) {
  ASSERT_EQ(create("root", "docker-team", {{"rclass", "local"}, {"maxUniqueTags", 5}}).status, 200);
  auto up = as("root").post("/api/repositories/docker-team", json{{"description", "now"}}.dump());
  ASSERT_EQ(up.status, 200) << up.describe();
  auto got = as("root").get("/api/repositories/docker-team").json();
  EXPECT_EQ(got["description"], "now");
  EXPECT_EQ(got["maxUniqueTags"], 5);

  auto exists = create("root", "docker-dev", {{"rclass", "local"}});
  EXPECT_EQ(exists.status, 400);
  EXPECT_EQ(exists.errorCode(), "BAD_REQUEST");
  auto file = as("root").post("/api/repositories/docker-dev", json{{"description", "x"}}.dump());
  EXPECT_EQ(file.status, 400);
  EXPECT_NE(file.body.find("defined in the configuration file"), std::string::npos) << file.body;
  EXPECT_EQ(as("root").del("/api/repositories/docker-dev").status, 400);
  EXPECT_EQ(as("root").get("/api/repositories/docker-dev").json()["definedIn"], "config");
  auto unknown = as("root").post("/api/repositories/nope", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.errorCode(), "NOT_FOUND");
}

TEST_F(RepositoryApiTest, ABodyThatDoesNotValidateIsRefusedWithEachProblem) {
  auto bad = create("root", "docker-team",
                    {{"rclass", "local"}, {"maxUniqueTags", "many"}, {"packageType", "maven"}});
  ASSERT_EQ(bad.status, 400) << bad.describe();
  EXPECT_EQ(bad.errorCode(), "BAD_REQUEST");
  auto detail = bad.json()["errors"][0]["detail"];
  ASSERT_TRUE(detail.is_array()) << bad.body;
  EXPECT_NE(detail.dump().find("packageType must be docker"), std::string::npos) << detail;
  auto typed = create("root", "docker-team", {{"rclass", "local"}, {"maxUniqueTags", "many"}});
  EXPECT_NE(typed.body.find("maxUniqueTags has the wrong type"), std::string::npos) << typed.body;
  auto member = create("root", "docker-all", {{"rclass", "virtual"}, {"repositories", {"docker-dev", "ghost"}}});
  EXPECT_EQ(member.status, 400);
  EXPECT_NE(member.body.find("member 'ghost' is not a repository"), std::string::npos) << member.body;
  EXPECT_EQ(as("root").put("/api/repositories/docker-team", "[1]").status, 400);
  EXPECT_EQ(as("root").put("/api/repositories/docker-team", "{").status, 400);
  auto key = create("root", "Bad..Key", {{"rclass", "local"}});
  EXPECT_EQ(key.status, 400);
  EXPECT_EQ(key.errorCode(), "NAME_INVALID");
  auto ca = create("root", "hub", {{"rclass", "remote"}, {"url", "https://127.0.0.1:1"}, {"caFile", "/etc/passwd"}});
  EXPECT_EQ(ca.status, 400);
  EXPECT_EQ(as("root").get("/api/repositories/docker-team").status, 404);
  EXPECT_EQ(keysOf(listed("root")).size(), 3u);
}

TEST_F(RepositoryApiTest, RemoteAndVirtualRepositoriesAndTheirSecrets) {
  auto remote = create("root", "hub",
                       {{"rclass", "remote"}, {"url", "http://127.0.0.1:9/"}, {"username", "upstream-user"},
                        {"password", "upstream-secret"}, {"socketTimeoutMillis", 2500}, {"offline", true}});
  ASSERT_EQ(remote.status, 200) << remote.describe();
  auto virt = create("root", "docker-all",
                     {{"rclass", "virtual"}, {"repositories", {"docker-dev", "hub"}}, {"defaultDeploymentRepo", "docker-dev"}});
  ASSERT_EQ(virt.status, 200) << virt.describe();
  auto shown = as("root").get("/api/repositories/hub");
  EXPECT_EQ(shown.json()["url"], "http://127.0.0.1:9");
  EXPECT_EQ(shown.json()["socketTimeoutMillis"], 3000);
  EXPECT_EQ(shown.json()["username"], "upstream-user");
  EXPECT_EQ(shown.body.find("upstream-secret"), std::string::npos);
  EXPECT_EQ(listed("root").dump().find("upstream-secret"), std::string::npos);
  // Pushing through the virtual key lands in its deployment repository.
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-all/app", img, "v1").status, 201);
  EXPECT_EQ(as("root").getManifest("/v2/docker-dev/app", "v1").status, 200);
  // The virtual repository holds on to its members.
  auto held = as("root").del("/api/repositories/hub");
  EXPECT_EQ(held.status, 400);
  EXPECT_NE(held.body.find("member 'hub'"), std::string::npos) << held.body;
  EXPECT_EQ(daemon_.log().find("upstream-secret"), std::string::npos) << "no secret is logged";
}

TEST_F(RepositoryApiTest, DeletingARepositoryRemovesItsContentAndGcFreesItsLayers) {
  ASSERT_EQ(create("root", "docker-team", {{"rclass", "local"}}).status, 200);
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-team/app", img, "v1").status, 201);
  auto del = as("root").del("/api/repositories/docker-team");
  ASSERT_EQ(del.status, 200) << del.describe();
  auto gone = as("root").getManifest("/v2/docker-team/app", "v1");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.errorCode(), "NAME_UNKNOWN");
  EXPECT_EQ(as("root").get("/api/repositories/docker-team").status, 404);
  // Created again, it starts empty.
  ASSERT_EQ(create("root", "docker-team", {{"rclass", "local"}}).status, 200);
  EXPECT_EQ(as("root").getManifest("/v2/docker-team/app", "v1").status, 404);
  EXPECT_EQ(as("root").get("/v2/docker-team/app/blobs/" + img.layers[0].digest).status, 404);
  auto gc = as("root").post("/api/system/storage/gc");
  ASSERT_EQ(gc.status, 200) << gc.describe();
  EXPECT_EQ(gc.json()["blobs"], 4) << "the manifest, its config and both layers";
  for (const auto& l : img.layers) {
    std::string hex = l.digest.substr(7);
    EXPECT_FALSE(std::filesystem::exists(daemon_.storageRoot() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex));
  }
  restart();
  EXPECT_EQ(as("root").getManifest("/v2/docker-team/app", "v1").status, 404);
}

// A port given through the API opens at once and closes with the repository.
TEST_F(RepositoryApiTest, ARepositorysOwnPortOpensAndClosesWithIt) {
  const uint16_t port = freeLoopbackPort();
  auto r = create("root", "docker-team", {{"rclass", "local"}, {"port", port}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["needsRestart"], json::array());
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-team/app", img, "v1").status, 201);
  HttpClient on_port(daemon_.host(), port);
  auto got = As(on_port, authit::basicAuth("root")).getManifest("/v2/app", "v1");
  EXPECT_EQ(got.status, 200) << got.describe();
  on_port.close();
  ASSERT_EQ(as("root").del("/api/repositories/docker-team").status, 200);
  EXPECT_THROW(Socket(daemon_.host(), port), std::exception);
  restart();
  EXPECT_THROW(Socket(daemon_.host(), port), std::exception);
}

TEST_F(RepositoryApiTest, OnlyThoseWhoMayManageChangeRepositories) {
  const json body{{"rclass", "local"}};
  EXPECT_EQ(anon().put("/api/repositories/docker-team", body.dump()).status, 401);
  EXPECT_EQ(create("bob", "docker-team", body).status, 403);
  EXPECT_EQ(create("manager", "docker-team", body).status, 403) << "manage on docker-dev only";
  // A registry token is never a login here, not even an administrator's.
  std::string token = dockerToken("root", {"repository:docker-dev/app:pull,push"});
  EXPECT_EQ(withBearer(token).put("/api/repositories/docker-team", body.dump()).status, 401);
  EXPECT_EQ(withBearer(token).get("/api/repositories").status, 401);
  EXPECT_EQ(as("root").get("/api/repositories/docker-team").status, 404);

  ASSERT_EQ(create("alice", "docker-team", body).status, 200);
  EXPECT_EQ(as("manager").post("/api/repositories/docker-dev", "{}").status, 400) << "allowed, but the file's";
  EXPECT_EQ(as("bob").del("/api/repositories/docker-team").status, 403);
  // Listing shows what the caller may read: bob reads nothing, anonymous the
  // repository with public images, alice (ANY) everything.
  EXPECT_EQ(keysOf(listed("bob")), std::vector<std::string>{});
  EXPECT_EQ(keysOf(anon().get("/api/repositories").json()), std::vector<std::string>{"docker-local"});
  EXPECT_EQ(keysOf(listed("alice")).size(), 4u);
  EXPECT_EQ(as("bob").get("/api/repositories/docker-team").status, 403);
  EXPECT_EQ(as("reader").get("/api/repositories/docker-dev").json().contains("username"), false);
  EXPECT_EQ(as("alice").del("/api/repositories/docker-team").status, 200);
}

}  // namespace
}  // namespace berth::it

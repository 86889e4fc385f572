// Permissions through a virtual repository: read on the virtual key to use
// it, reads only from members the caller may read (others are skipped as if
// empty), pushes and deletes with the right on the deployment repository,
// with Basic credentials and with the token endpoint's Bearer tokens.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

// all: [docker-prod, docker-dev, docker-local] deploying to docker-dev.
// The standard model (auth_support.h) plus: reader and deployer read `all`;
// bob reads every member but not `all`; deployer reads docker-prod too.
class VirtualAuthTest : public SecureTest {
 protected:
  void SetUp() override {
    if (anonymous_reads_)
      opts_.extra_permissions =
          "    - name: anon-all\n      repositories: [all, docker-prod, docker-dev]\n"
          "      users: {anonymous: [read]}\n";
    opts_.repository_yaml = {
        "{key: all, type: virtual, repositories: [docker-prod, docker-dev, docker-local], "
        "default_deployment_repo: docker-dev}"};
    opts_.extra_users = userYaml("bob");
    opts_.extra_permissions +=
        "    - name: virtual\n      repositories: [all]\n      users: {reader: [read], deployer: [read]}\n"
        "    - name: members\n      repositories: [docker-prod, docker-dev, docker-local]\n"
        "      users: {bob: [read]}\n"
        "    - name: prod-for-deployer\n      repositories: [docker-prod]\n      users: {deployer: [read]}\n";
    SecureTest::SetUp();
    as("root").pushImage("/v2/docker-dev/app", dev_image_, "1");
    as("root").pushImage("/v2/docker-prod/app", prod_image_, "1");
    as("root").pushImage("/v2/docker-prod/app", prod_image_, "prod-only");
  }

  Image dev_image_ = makeImage(), prod_image_ = makeImage();
  bool anonymous_reads_ = false;  // anonymous may read all, docker-prod and docker-dev
};

TEST_F(VirtualAuthTest, AMemberTheCallerCannotReadIsSkipped) {
  // docker-prod comes first, but reader may not read it: docker-dev's image.
  auto m = as("reader").getManifest("/v2/all/app", "1");
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.header("Docker-Content-Digest"), dev_image_.manifest.digest);
  EXPECT_API_ERROR(as("reader").getManifest("/v2/all/app", "prod-only"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(as("reader").getManifest("/v2/all/app", prod_image_.manifest.digest), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(as("reader").getBlob("/v2/all/app", prod_image_.layers[0].digest), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(as("reader").getBlob("/v2/all/app", dev_image_.layers[0].digest).status, 200);
  auto tags = as("reader").get("/v2/all/app/tags/list");
  EXPECT_EQ(tags.json()["tags"], nlohmann::json({"1"})) << tags.body;
  // deployer may read docker-prod: its image comes first.
  auto d = as("deployer").getManifest("/v2/all/app", "1");
  EXPECT_EQ(d.header("Docker-Content-Digest"), prod_image_.manifest.digest) << d.describe();
  EXPECT_EQ(as("deployer").get("/v2/all/app/tags/list").json()["tags"], nlohmann::json({"1", "prod-only"}));
}

TEST_F(VirtualAuthTest, ReadingTheMembersIsNotEnoughWithoutReadOnTheVirtualKey) {
  EXPECT_EQ(as("bob").getManifest("/v2/docker-dev/app", "1").status, 200);
  EXPECT_API_ERROR(as("bob").getManifest("/v2/all/app", "1"), 403, "DENIED");
  EXPECT_API_ERROR(anon().getManifest("/v2/all/app", "1"), 401, "UNAUTHORIZED");
}

TEST_F(VirtualAuthTest, PushingNeedsDeployOnTheDeploymentRepository) {
  Image image = makeImage();
  auto pushed = as("deployer").pushImage("/v2/all/new", image, "1");  // deployer: deploy on docker-dev
  EXPECT_EQ(pushed.status, 201) << pushed.describe();
  EXPECT_EQ(as("root").getManifest("/v2/docker-dev/new", "1").status, 200);
  EXPECT_EQ(as("deployer").getManifest("/v2/all/new", "1").status, 200);
  // reader reads `all` but may not deploy to docker-dev.
  EXPECT_API_ERROR(as("reader").pushBlob("/v2/all/new", "x"), 403, "DENIED");
  EXPECT_API_ERROR(as("reader").putManifest("/v2/all/new", "2", image.manifest), 403, "DENIED");
  // Deleting needs delete on docker-dev: deployer has only deploy.
  EXPECT_API_ERROR(as("deployer").del("/v2/all/new/manifests/1"), 403, "DENIED");
  EXPECT_EQ(as("root").del("/v2/all/new/manifests/1").status, 202);
}

TEST_F(VirtualAuthTest, TheTokenEndpointGrantsPushOnTheVirtualKeyByTheDeploymentRepository) {
  auto claims = [&](const std::string& who) {
    return Jwt::split(dockerToken(who, {"repository:all/app:pull,push"})).claims()["access"];
  };
  EXPECT_EQ(claims("deployer"),
            nlohmann::json::parse(R"([{"type":"repository","name":"all/app","actions":["pull","push"]}])"));
  EXPECT_EQ(claims("reader"), nlohmann::json::parse(R"([{"type":"repository","name":"all/app","actions":["pull"]}])"));
  // With the deployer's token, a push through the virtual key lands in docker-dev.
  std::string token = dockerToken("deployer", {"repository:all/tok:pull,push"});
  Image image = makeImage();
  auto pushed = withBearer(token).pushImage("/v2/all/tok", image, "1");
  EXPECT_EQ(pushed.status, 201) << pushed.describe();
  EXPECT_EQ(as("root").getManifest("/v2/docker-dev/tok", "1").status, 200);
  // A pull token read through the virtual key still skips what the member forbids.
  std::string pull = dockerToken("reader", {"repository:all/app:pull"});
  EXPECT_EQ(withBearer(pull).getManifest("/v2/all/app", "1").header("Docker-Content-Digest"),
            dev_image_.manifest.digest);
  EXPECT_API_ERROR(withBearer(pull).getManifest("/v2/all/app", "prod-only"), 404, "MANIFEST_UNKNOWN");
}

TEST_F(VirtualAuthTest, TheCatalogOfTheVirtualKeyListsOnlyReadableMembersImages) {
  as("root").pushImage("/v2/docker-prod/secret", prod_image_, "1");
  std::string token = dockerToken("reader", {"registry:catalog:*"});
  auto r = withBearer(token).get("/api/docker/all/v2/_catalog");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["repositories"], nlohmann::json({"app"})) << r.body;
}

}  // namespace
}  // namespace berth::it

namespace berth::it {
namespace {

using namespace authit;

// Regressions from the attack on virtual repositories (issue 9).
TEST_F(VirtualAuthTest, MovingATagOfTheDeploymentRepositoryNeedsDeleteWhateverOtherMembersHold) {
  // docker-prod (first, readable by deployer) has app:1 = prod_image_; the
  // deployment repository docker-dev has app:1 = dev_image_. Re-pushing
  // prod's manifest through the virtual key moves docker-dev's tag: delete.
  for (const Blob* b : {&prod_image_.config, &prod_image_.layers[0], &prod_image_.layers[1]})
    ASSERT_EQ(as("deployer").pushBlob("/v2/docker-dev/app", b->bytes).status, 201);
  EXPECT_API_ERROR(as("deployer").putManifest("/v2/all/app", "1", prod_image_.manifest), 403, "DENIED");
  EXPECT_EQ(as("root").getManifest("/v2/docker-dev/app", "1").header("Docker-Content-Digest"),
            dev_image_.manifest.digest);
  // A tag new to docker-dev is a plain push, whatever docker-prod has under it.
  auto fresh = as("deployer").putManifest("/v2/all/app", "prod-only", dev_image_.manifest);
  EXPECT_EQ(fresh.status, 201) << fresh.describe();
}

TEST_F(VirtualAuthTest, TheCatalogCursorNeverNamesAnImageTheCallerCannotList) {
  // patterned lists docker-local's app and team/** except team/secret*.
  Image image = makeImage();
  for (const char* name : {"app", "team/secret1", "team/x", "zzz"})
    ASSERT_EQ(as("root").pushImage(std::string("/v2/docker-local/") + name, image, "1").status, 201);
  std::vector<std::string> listed;
  std::string target = "/api/docker/docker-local/v2/_catalog?n=1";
  for (int i = 0; i < 10 && !target.empty(); ++i) {
    auto r = as("patterned").get(target);
    ASSERT_EQ(r.status, 200) << r.describe();
    auto body = r.json();
    for (const auto& n : body["repositories"]) listed.push_back(n.get<std::string>());
    auto link = r.header("Link");
    EXPECT_EQ(link.find("secret"), std::string::npos) << link;
    EXPECT_EQ(link.find("zzz"), std::string::npos) << link;
    target = link.empty() ? "" : link.substr(1, link.find('>') - 1);
  }
  EXPECT_EQ(listed, (std::vector<std::string>{"app", "team/x"}));
}

class VirtualForcedAuthTest : public VirtualAuthTest {
 protected:
  void SetUp() override {
    opts_.force_authentication = "[docker-prod]";
    anonymous_reads_ = true;
    VirtualAuthTest::SetUp();
  }
};

TEST_F(VirtualForcedAuthTest, AMemberThatForcesAuthenticationStaysClosedToAnonymousThroughTheVirtualKey) {
  EXPECT_API_ERROR(anon().getManifest("/v2/docker-prod/app", "prod-only"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(anon().getManifest("/v2/all/app", "prod-only"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(anon().getBlob("/v2/all/app", prod_image_.layers[0].digest), 404, "BLOB_UNKNOWN");
  // docker-dev does not force it: anonymous reads its app:1 through the virtual key.
  auto m = anon().getManifest("/v2/all/app", "1");
  EXPECT_EQ(m.header("Docker-Content-Digest"), dev_image_.manifest.digest) << m.describe();
}

}  // namespace
}  // namespace berth::it

// Virtual repositories on an open registry: resolution order, pushes to the
// deployment repository, merged listings with pagination, deletes, tags by
// latest timestamp, remote members (alive, dead, slow) and nesting.
// Permissions through a virtual repository: virtual_auth_test.cc.
#include <gtest/gtest.h>

#include <chrono>

#include "integration/support/fixture.h"
#include "integration/support/scripted_upstream.h"

namespace berth::it {
namespace {

// Three locals and a remote member (a scripted upstream), under virtual
// repositories:
//   docker:   [docker-local, docker-dev, hub] deploying to docker-local
//   ro:       [docker-dev, docker-local]      no deployment repository
//   latest:   [docker-local, docker-dev]      resolve_tags_by_latest_timestamp
//   outer:    [ro, docker-prod]               a virtual member
//   hubfirst: [hub, docker-local]
DaemonOptions virtualOptions(const std::string& hub_url) {
  DaemonOptions o;
  o.repositories = {"docker-local", "docker-dev", "docker-prod"};
  o.repository_yaml = {
      "{key: hub, type: remote, url: \"" + hub_url + "\", timeout_seconds: 30}",
      "{key: docker, type: virtual, repositories: [docker-local, docker-dev, hub], "
      "default_deployment_repo: docker-local}",
      "{key: ro, type: virtual, repositories: [docker-dev, docker-local]}",
      "{key: latest, type: virtual, repositories: [docker-local, docker-dev], resolve_tags_by_latest_timestamp: true}",
      "{key: outer, type: virtual, repositories: [ro, docker-prod]}",
      "{key: hubfirst, type: virtual, repositories: [hub, docker-local]}",
  };
  return o;
}

class VirtualTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(virtualOptions(hub_.url()));
    daemon_->start();
    http_.retarget(daemon_->host(), daemon_->port());
  }
  void TearDown() override { finishDaemon(*daemon_, http_, HasFailure()); }

  ImageClient img(const std::string& key, const std::string& name = "app") {
    return ImageClient(http_, "/v2/" + key + "/" + name);
  }
  static void expectServes(const ImageClient& c, const Image& image, const std::string& ref) {
    auto m = c.getManifest(ref);
    ASSERT_EQ(m.status, 200) << c.url() << " " << ref << ": " << m.describe();
    EXPECT_EQ(m.body, image.manifest.bytes);
    EXPECT_EQ(m.header("Docker-Content-Digest"), image.manifest.digest);
    EXPECT_EQ(m.header("Content-Type"), image.manifest.media_type);
    for (const auto& l : image.layers) {
      auto b = c.getBlob(l.digest);
      ASSERT_EQ(b.status, 200) << b.describe();
      EXPECT_EQ(b.body, l.bytes);
      EXPECT_EQ(c.headBlob(l.digest).status, 200);
    }
  }
  std::vector<std::string> tagsOf(const std::string& target) {
    auto r = http_.get(target);
    EXPECT_EQ(r.status, 200) << r.describe();
    std::vector<std::string> out;
    for (const auto& t : r.json().value("tags", nlohmann::json::array())) out.push_back(t.get<std::string>());
    return out;
  }

  ScriptedUpstream hub_;
  std::unique_ptr<Daemon> daemon_;
  HttpClient http_{"127.0.0.1", 0};
};

TEST_F(VirtualTest, ReadsTakeTheFirstMemberThatHasIt) {
  Image in_local = makeImage(), in_dev = makeImage(mt::kDockerManifest, 3), only_dev = makeImage();
  img("docker-local").pushImage(in_local, "1");
  img("docker-dev").pushImage(in_dev, "1");
  img("docker-dev").pushImage(only_dev, "2");
  expectServes(img("docker"), in_local, "1");  // docker-local comes first
  expectServes(img("ro"), in_dev, "1");        // docker-dev comes first
  expectServes(img("docker"), only_dev, "2");
  expectServes(img("docker"), in_dev, in_dev.manifest.digest);  // by digest: the member that has it
  EXPECT_EQ(img("docker").headManifest("2").header("Docker-Content-Digest"), only_dev.manifest.digest);
  EXPECT_EQ(hub_.total(), 0) << "the remote member is asked only when no member before it has it";
  EXPECT_API_ERROR(img("docker").getManifest("nope"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(img("docker").getBlob(sha256Of("nothing")), 404, "BLOB_UNKNOWN");
  EXPECT_API_ERROR(img("docker", "other").getManifest("1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_GT(hub_.total(), 0) << "a miss in every local member asks the remote one";
}

TEST_F(VirtualTest, AVirtualMemberResolvesInItsOwnOrder) {
  Image in_dev = makeImage(), in_prod = makeImage();
  img("docker-dev").pushImage(in_dev, "1");
  img("docker-prod").pushImage(in_prod, "1");
  img("docker-prod").pushImage(in_prod, "2");
  expectServes(img("outer"), in_dev, "1");
  expectServes(img("outer"), in_prod, "2");
}

TEST_F(VirtualTest, PushesGoToTheDeploymentRepositoryAndPullBackEverywhere) {
  Image image = makeImage(mt::kOciManifest, 2);
  auto docker = img("docker");
  docker.pushBlob(image.config.bytes);
  // One layer monolithic, one chunked through the virtual key's upload URLs.
  EXPECT_EQ(docker.pushBlob(image.layers[0].bytes).status, 201);
  auto chunked = docker.pushBlobInChunks(image.layers[1].bytes, 1000);
  EXPECT_EQ(chunked.status, 201) << chunked.describe();
  auto put = docker.putManifest("1", image.manifest);
  ASSERT_EQ(put.status, 201) << put.describe();
  EXPECT_EQ(put.header("Docker-Content-Digest"), image.manifest.digest);
  expectServes(img("docker"), image, "1");
  expectServes(img("docker-local"), image, "1");
  EXPECT_API_ERROR(img("docker-dev").getManifest("1"), 404, "MANIFEST_UNKNOWN");
  // A mount through the virtual key links into the deployment repository.
  auto mounted = img("docker", "copy").mount(image.layers[0].digest, "docker-local/app");
  EXPECT_EQ(mounted.status, 201) << mounted.describe();
  EXPECT_EQ(img("docker-local", "copy").getBlob(image.layers[0].digest).status, 200);
}

TEST_F(VirtualTest, WithoutADeploymentRepositoryPushesAreRefusedWith405) {
  Image image = makeImage();
  auto r = img("ro").pushBlob(image.config.bytes);
  EXPECT_API_ERROR(r, 405, "UNSUPPORTED");
  EXPECT_NE(r.body.find("no default deployment repository"), std::string::npos) << r.body;
  EXPECT_API_ERROR(img("ro").startUpload(), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(img("ro").putManifest("1", image.manifest), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(img("ro").deleteManifest("1"), 405, "UNSUPPORTED");
}

TEST_F(VirtualTest, DeletesActOnTheDeploymentRepositoryOnly) {
  Image a = makeImage(), b = makeImage();
  img("docker-local").pushImage(a, "1");
  img("docker-dev").pushImage(b, "1");
  EXPECT_EQ(img("docker").deleteManifest("1").status, 202);
  EXPECT_API_ERROR(img("docker-local").getManifest("1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(img("docker-dev").getManifest("1").status, 200);
  expectServes(img("docker"), b, "1");  // now the next member's
  // A tag only another member has is not deleted through the virtual key.
  EXPECT_API_ERROR(img("docker").deleteManifest("1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(img("docker-dev").getManifest("1").status, 200);
}

TEST_F(VirtualTest, TagsListMergesSortedDeduplicatedAndPaginates) {
  Image image = makeImage();
  img("docker-local").pushImage(image, "a");
  for (const char* t : {"c", "e"}) ASSERT_EQ(img("docker-local").putManifest(t, image.manifest).status, 201);
  img("docker-dev").pushImage(image, "b");
  for (const char* t : {"c", "d"}) ASSERT_EQ(img("docker-dev").putManifest(t, image.manifest).status, 201);
  hub_.addImage("app", image, "f");
  hub_.addManifest("app", image.manifest, "a");
  EXPECT_EQ(tagsOf("/v2/docker/app/tags/list"), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  // Pages of 2, following Link.
  std::vector<std::string> all;
  std::string target = "/v2/docker/app/tags/list?n=2";
  int pages = 0;
  while (!target.empty() && pages < 10) {
    auto r = http_.get(target);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.json()["name"], "docker/app");
    auto tags = r.json()["tags"];
    EXPECT_LE(tags.size(), 2u);
    for (const auto& t : tags) all.push_back(t.get<std::string>());
    ++pages;
    auto link = r.header("Link");
    target = link.empty() ? "" : link.substr(1, link.find('>') - 1);
  }
  EXPECT_EQ(all, (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(tagsOf("/v2/docker/app/tags/list?last=c&n=2"), (std::vector<std::string>{"d", "e"}));
  EXPECT_API_ERROR(http_.get("/v2/ro/nothing/tags/list"), 404, "NAME_UNKNOWN");
}

TEST_F(VirtualTest, TheRepositoryCatalogMergesMembers) {
  Image image = makeImage();
  img("docker-local", "a").pushImage(image, "1");
  img("docker-local", "c").pushImage(image, "1");
  img("docker-dev", "b").pushImage(image, "1");
  img("docker-dev", "c").pushImage(image, "1");
  auto r = http_.get("/api/docker/docker/v2/_catalog");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["repositories"], nlohmann::json({"a", "b", "c"}));
  auto page = http_.get("/api/docker/docker/v2/_catalog?n=2");
  EXPECT_EQ(page.json()["repositories"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(page.header("Link"), "</api/docker/docker/v2/_catalog?last=b&n=2>; rel=\"next\"");
  EXPECT_EQ(http_.get("/api/docker/docker/v2/_catalog?last=b&n=2").json()["repositories"], nlohmann::json({"c"}));
}

TEST_F(VirtualTest, ReferrersMergeAcrossMembers) {
  Image subject = makeImage();
  img("docker-local").pushImage(subject, "1");
  img("docker-dev").pushImage(subject, "1");
  Image sig = makeArtifact("application/vnd.example.sig", subject.manifest);
  Image sbom = makeArtifact("application/vnd.example.sbom", subject.manifest);
  img("docker-local").pushImage(sig);
  img("docker-dev").pushImage(sbom);
  img("docker-dev").pushImage(sig);
  auto r = img("docker").referrers(subject.manifest.digest);
  ASSERT_EQ(r.status, 200) << r.describe();
  auto body = r.json();
  std::set<std::string> digests;
  for (const auto& d : body["manifests"]) digests.insert(d["digest"].get<std::string>());
  EXPECT_EQ(digests, (std::set<std::string>{sig.manifest.digest, sbom.manifest.digest})) << r.body;
  EXPECT_EQ(body["manifests"].size(), 2u) << "de-duplicated";
}

TEST_F(VirtualTest, TagsResolveToTheLatestPushAmongLocalMembers) {
  Image older = makeImage(), newer = makeImage();
  img("docker-dev").pushImage(older, "1");
  // Push times have a resolution of one second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  img("docker-local").pushImage(newer, "1");
  expectServes(img("latest"), newer, "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(img("docker-dev").putManifest("1", older.manifest).status, 201);
  expectServes(img("latest"), older, "1");  // docker-dev is second in order but newer
  expectServes(img("docker"), newer, "1");  // without the flag, the order decides
}

TEST_F(VirtualTest, AnImageOnlyTheRemoteMemberHasIsFetchedThroughIt) {
  Image image = makeImage(mt::kDockerManifest, 2);
  hub_.addImage("app", image, "1");
  expectServes(img("docker"), image, "1");
  expectServes(img("hub"), image, "1");  // cached under the remote's own key
}

TEST_F(VirtualTest, ADeadRemoteMemberNeitherHidesNorDelaysALocalHit) {
  Image image = makeImage();
  img("docker-local").pushImage(image, "1");
  // The upstream answers nothing for 20 s (a black hole), then a 503.
  hub_.on("*", "/v2/*", scripted::stall(std::chrono::seconds(20), scripted::status(503)));
  auto start = std::chrono::steady_clock::now();
  expectServes(img("docker"), image, "1");  // the local member comes first: never waits for the remote
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5)) << "a local hit waited for the remote member";
  EXPECT_EQ(hub_.total(), 0);
  // Remote first and failing fast: its error does not hide the local hit.
  hub_.clearRoutes();
  hub_.on("*", "/v2/*", scripted::status(503));
  expectServes(img("hubfirst"), image, "1");
  // Nobody has it: the remote's failure is the answer, not a 404.
  EXPECT_API_ERROR(img("hubfirst").getManifest("2"), 503, "UNAVAILABLE");
  hub_.stop();
  expectServes(img("hubfirst"), image, "1");
}

// Regressions from the attack on virtual repositories (issue 9).
TEST_F(VirtualTest, ADeadRemoteMemberDoesNotBreakPushesThroughTheVirtualKey) {
  hub_.stop();
  Image image = makeImage();
  // The client's "do you have this blob?" must be a 404 so that it uploads.
  EXPECT_EQ(img("docker").headBlob(image.layers[0].digest).status, 404);
  img("docker").pushImage(image, "1");
  expectServes(img("docker-local"), image, "1");
  // A GET of a blob nobody has still says why it could not be found.
  EXPECT_API_ERROR(img("hubfirst").getBlob(sha256Of("nowhere")), 503, "UNAVAILABLE");
}

TEST_F(VirtualTest, AnUpstreamAnsweringEverythingDoesNotUnlockBlobsStoredForOthers) {
  Image secret = makeImage();
  img("docker-prod", "private").pushImage(secret, "1");
  // A catch-all page: 200 to any path and method, the same bytes.
  hub_.on("*", "/*", scripted::status(200, "<html>welcome</html>", {{"Content-Type", "text/html"}}));
  // The blob is stored (for docker-prod); a 200 to HEAD that does not
  // announce its size must not make the remote link and serve it.
  // What the upstream sends is fetched and fails verification: the answer is
  // an error, or a body cut short (the connection closed) - never the blob.
  for (const char* key : {"hub", "docker"}) {
    HttpClient client(daemon_->host(), daemon_->port());
    try {
      auto r = ImageClient(client, std::string("/v2/") + key + "/anything").getBlob(secret.layers[0].digest);
      EXPECT_NE(r.body, secret.layers[0].bytes) << key;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("connection closed"), std::string::npos) << key << ": " << e.what();
    }
  }
}

TEST_F(VirtualTest, AnUpstreamIgnoringLastNeverSendsClientsRoundInCircles) {
  // Always the same first page, always "more".
  hub_.on("GET", "/v2/app/tags/list*",
          scripted::status(200, R"({"name":"app","tags":["a","b"]})",
                           {{"Content-Type", "application/json"}, {"Link", "</v2/app/tags/list?last=b&n=2>; rel=\"next\""}}));
  for (const char* key : {"hub", "docker"}) {
    auto r = http_.get(std::string("/v2/") + key + "/app/tags/list?last=b&n=2");
    ASSERT_EQ(r.status, 200) << key << ": " << r.describe();
    EXPECT_EQ(r.json()["tags"], nlohmann::json::array()) << key;
    EXPECT_FALSE(r.headers.has("Link")) << key << ": " << r.header("Link");
  }
}

// Found by the e2e test (tests/e2e/virtual_test.sh): with the remote
// member's upstream down, HEAD of a new blob through the virtual key answered
// the remote's 503, and skopeo, podman and docker abort a push on that.
TEST_F(VirtualTest, WithTheRemoteMemberDownNewBlobsArePushedThroughTheVirtualKey) {
  hub_.on("*", "/v2/*", scripted::status(503));
  Image image = makeImage();
  for (const auto& l : image.layers) {
    auto head = img("docker").headBlob(l.digest);
    EXPECT_EQ(head.status, 404) << head.describe();
  }
  img("docker").pushImage(image, "1");
  expectServes(img("docker-local"), image, "1");
  // A mount from the virtual key of a blob nobody has starts a plain upload.
  auto mount = img("docker-local", "other").mount(sha256Of("nobody has this"), "docker/app");
  EXPECT_EQ(mount.status, 202) << mount.describe();
  // GET still says why nobody could serve it.
  EXPECT_API_ERROR(img("docker").getBlob(sha256Of("nobody has this")), 503, "UNAVAILABLE");
  EXPECT_GT(hub_.total(), 0);
}

// Found by the e2e test (tests/e2e/virtual_test.sh): HEAD of a blob through
// the virtual key answers 200 when a member other than the deployment
// repository has it, so clients upload nothing; the manifest PUT must then
// find those blobs (and an index's children) in the deployment repository.
// That is `docker pull host/docker/base:1 && docker tag ... host/docker/base:mine && docker push`.
TEST_F(VirtualTest, AManifestWhoseBlobsAnotherMemberHasIsPushedThroughTheVirtualKey) {
  Image in_dev = makeImage();
  img("docker-dev").pushImage(in_dev, "1");
  for (const auto& l : in_dev.layers) ASSERT_EQ(img("docker").headBlob(l.digest).status, 200);
  auto put = img("docker").putManifest("2", in_dev.manifest);
  EXPECT_EQ(put.status, 201) << put.describe();
  expectServes(img("docker-local"), in_dev, "2");
  // An image only the remote member has, pulled through the virtual key first.
  Image upstream = makeImage(mt::kDockerManifest, 2);
  hub_.addImage("base", upstream, "1");
  expectServes(img("docker", "base"), upstream, "1");
  put = img("docker", "base").putManifest("mine", upstream.manifest);
  EXPECT_EQ(put.status, 201) << put.describe();
  expectServes(img("docker-local", "base"), upstream, "mine");
  // Not cached yet: the remote fetches the blobs the client skipped.
  Image cold = makeImage(mt::kDockerManifest, 2);
  hub_.addImage("cold", cold, "1");
  put = img("docker", "cold").putManifest("mine", cold.manifest);
  EXPECT_EQ(put.status, 201) << put.describe();
  expectServes(img("docker-local", "cold"), cold, "mine");
  // An index whose children another member has.
  Image a = makeImage(), b = makeImage();
  img("docker-dev", "multi").pushImage(a);
  img("docker-dev", "multi").pushImage(b);
  Manifest index = makeIndex({a.manifest, b.manifest});
  put = img("docker", "multi").putManifest("1", index);
  EXPECT_EQ(put.status, 201) << put.describe();
  expectServes(img("docker-local", "multi"), a, a.manifest.digest);
  EXPECT_EQ(img("docker-local", "multi").getManifest("1").body, index.bytes);
}

}  // namespace
}  // namespace berth::it

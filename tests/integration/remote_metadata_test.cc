// Remote repositories and what changes upstream: a tag re-checked after its
// TTL (HEAD when unchanged, GET when moved), tags/list passed through and its
// cached fallback, a token that expires in the middle of a pull, and foreign
// layers (fetched from an allowed URL and cached; left alone otherwise).
// Against ScriptedUpstreams, which count what they are asked.
#include <gtest/gtest.h>

#include <thread>

#include "integration/remote_support.h"
#include "integration/support/scripted_upstream.h"
#include "integration/support/token_issuer.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;
using remoteit::Downstream;
using remoteit::eventually;
using remoteit::expectPulls;

nlohmann::json tagsOf(const Response& r) {
  auto j = r.json();
  return j.is_object() && j.contains("tags") ? j["tags"] : nlohmann::json();
}

TEST(RemoteMetadata, ATagPastItsTtlIsCheckedWithHeadAndFetchedOnlyWhenItMoved) {
  ScriptedUpstream up;
  Image v1 = makeImage(mt::kOciManifest, 1), v2 = makeImage(mt::kOciManifest, 1);
  up.addImage("app", v1, "latest");
  Downstream berth(up.url(), "metadata_ttl_seconds: 2");
  ImageClient app = berth.image("app");
  const std::string tag = "/v2/app/manifests/latest";
  expectPulls(app, v1, "latest");
  EXPECT_EQ(up.count("GET", tag), 1);
  // Within the TTL: the upstream is not asked.
  expectPulls(app, v1, "latest");
  EXPECT_EQ(up.count(tag), 1);

  std::this_thread::sleep_for(2100ms);
  expectPulls(app, v1, "latest");
  EXPECT_EQ(up.count("HEAD", tag), 1);
  EXPECT_EQ(up.count("GET", tag), 1) << "unchanged: the cached bytes are served";
  // The HEAD renewed the TTL.
  expectPulls(app, v1, "latest");
  EXPECT_EQ(up.count(tag), 2);

  up.addImage("app", v2, "latest");
  std::this_thread::sleep_for(2100ms);
  expectPulls(app, v2, "latest");
  EXPECT_EQ(up.count("HEAD", tag), 2);
  EXPECT_EQ(up.count("GET", tag), 2) << "moved: fetched again";
  // The old image stays cached by digest.
  up.stop();
  expectPulls(app, v1, v1.manifest.digest);
  expectPulls(app, v2, "latest");
}

TEST(RemoteMetadata, TagsListIsTheUpstreamsAndTheCachedTagsWhenItIsDown) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  up.addImage("app", img, "v2");
  up.addImage("app", img, "v3");
  Downstream berth(up.url());
  ImageClient app = berth.image("app");
  Response all = app.tags();
  ASSERT_EQ(all.status, 200) << all.describe();
  EXPECT_EQ(tagsOf(all), nlohmann::json::array({"v1", "v2", "v3"}));
  EXPECT_EQ(all.json()["name"], "docker-remote/app");
  EXPECT_EQ(app.getManifest("v2").status, 200);  // only v2 is cached

  up.stop();
  Response cached = app.tags();
  ASSERT_EQ(cached.status, 200) << cached.describe();
  EXPECT_EQ(tagsOf(cached), nlohmann::json::array({"v2"}));
  // Nothing cached and nothing upstream: the upstream's failure.
  EXPECT_TRUE(isApiError(berth.image("other").tags(), 503, "UNAVAILABLE"));
}

TEST(RemoteMetadata, TagsListPassesLastToTheUpstreamAsOneParameter) {
  ScriptedUpstream up;
  up.addImage("app", makeImage(mt::kOciManifest, 1), "v1");
  Downstream berth(up.url());
  // A `last` that is no tag must not add parameters of its own upstream.
  Response r = berth.http().get("/v2/docker-remote/app/tags/list?n=2&last=a%26n%3D9999");
  EXPECT_EQ(r.status, 200) << r.describe();
  std::vector<ServerRequest> asked;
  for (const auto& q : up.requests())
    if (q.path == "/v2/app/tags/list") asked.push_back(q);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].param("last"), "a&n=9999") << asked[0].target;
  EXPECT_EQ(asked[0].params("n"), std::vector<std::string>{"2"}) << asked[0].target;
}

TEST(RemoteMetadata, ATokenThatExpiresInTheMiddleOfAPullIsRenewed) {
  // It tells Berth the token is good for 5 minutes, but the upstream refuses
  // it after 2 s (ScriptedUpstream checks exp without leeway).
  TokenIssuer issuer({.service = "scripted", .expires_in = 300, .lifetime = 2});
  ScriptedUpstream up;
  up.requireBearer(issuer.realm(), "scripted", [&](const std::string& t) { return issuer.accepts(t); });
  Image img = makeImage(mt::kOciManifest, 2);
  up.addImage("app", img, "v1");
  Downstream berth(up.url());
  ImageClient app = berth.image("app");
  Response m = app.getManifest("v1");
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(issuer.requests(), 1);
  std::this_thread::sleep_for(3s);
  expectPulls(app, img, "v1");
  EXPECT_EQ(issuer.requests(), 2) << "renewed once, then reused";
  for (const auto& r : issuer.log()) EXPECT_EQ(r.status, 200);
}

TEST(RemoteMetadata, ConcurrentRequestsShareOneTokenRequest) {
  TokenIssuer issuer({.service = "scripted", .expires_in = 300, .lifetime = 2});
  ScriptedUpstream up;
  up.requireBearer(issuer.realm(), "scripted", [&](const std::string& t) { return issuer.accepts(t); });
  std::vector<Blob> blobs;
  for (int i = 0; i < 16; ++i) {
    blobs.push_back(Blob::random(4096));
    up.addBlob("app", blobs.back().bytes);
  }
  Downstream berth(up.url());
  // Eight cold requests at once, then (the token expired) eight more.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::thread> threads;
    std::vector<int> status(8);
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&, i] {
        HttpClient c = berth.newClient();
        status[i] = ImageClient(c, "/v2/docker-remote/app").getBlob(blobs[round * 8 + i].digest).status;
      });
    for (auto& t : threads) t.join();
    for (int i = 0; i < 8; ++i) EXPECT_EQ(status[i], 200) << "round " << round << " client " << i;
    EXPECT_EQ(issuer.requests(), round + 1) << "round " << round;
    if (round == 0) std::this_thread::sleep_for(3s);
  }
}

// A manifest with two foreign layers on 127.0.0.2: one under /layers/ (allowed
// by the remote's include pattern), one elsewhere.
class RemoteForeignLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    allowed_url_ = foreign_host_.url() + "/layers/" + allowed_.digest;
    other_url_ = foreign_host_.url() + "/elsewhere/" + other_.digest;
    foreign_host_.on("GET", "/layers/" + allowed_.digest, scripted::status(200, allowed_.bytes));
    foreign_host_.on("GET", "/elsewhere/" + other_.digest, scripted::status(200, other_.bytes));
    img_ = makeImageOver({foreign(allowed_, allowed_url_), foreign(other_, other_url_)}, mt::kDockerManifest);
    up_.addBlob("win", img_.config.bytes);
    up_.addManifest("win", img_.manifest, "ltsc");
  }
  static nlohmann::json foreign(const Blob& b, const std::string& url) {
    auto d = descriptorOf("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", b);
    d["urls"] = nlohmann::json::array({url});
    return d;
  }

  ScriptedUpstream up_, foreign_host_{"127.0.0.2"};
  Blob allowed_ = Blob::random(300 * 1024), other_ = Blob::random(1000);
  std::string allowed_url_, other_url_;
  Image img_;
};

TEST_F(RemoteForeignLayers, AnAllowedLayerIsFetchedFromItsUrlAndCachedOthersAreLeftAlone) {
  Downstream berth(up_.url(), "foreign_layers: {enabled: true, include: [\"http://127.0.0.2:*/layers/**\"]}");
  ImageClient win = berth.image("win");
  Response m = win.getManifest("ltsc");
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.body, img_.manifest.bytes) << "served unchanged";
  Response layer = win.getBlob(allowed_.digest);
  EXPECT_EQ(layer.status, 200) << layer.describe();
  EXPECT_TRUE(layer.body == allowed_.bytes);
  EXPECT_EQ(foreign_host_.count("GET", "/layers/" + allowed_.digest), 1);
  for (const auto& r : foreign_host_.requests()) EXPECT_FALSE(r.headers.has("Authorization"));

  // Outside the patterns: unknown here (the client uses the URL), and that
  // host is never contacted.
  EXPECT_TRUE(isApiError(win.getBlob(other_.digest), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(foreign_host_.count("/elsewhere/" + other_.digest), 0);

  // Cached: served with the foreign host and the upstream gone, after a restart too.
  foreign_host_.stop();
  up_.stop();
  layer = win.getBlob(allowed_.digest);
  EXPECT_EQ(layer.status, 200);
  EXPECT_TRUE(layer.body == allowed_.bytes);
  berth.restart();
  EXPECT_EQ(berth.image("win").getManifest("ltsc").body, img_.manifest.bytes);
  EXPECT_TRUE(berth.image("win").getBlob(allowed_.digest).body == allowed_.bytes);
}

// Regression (attack on issue 8): foreign URLs were remembered by digest
// alone, so one image's manifest could send every other image's pulls of that
// digest to a URL of its choosing.
TEST_F(RemoteForeignLayers, OneImagesForeignUrlIsNeverUsedForAnotherImage) {
  foreign_host_.on("GET", "/layers/" + allowed_.digest, scripted::status(200, std::string(allowed_.bytes.size(), 'x')));
  up_.addBlob("good", allowed_.bytes);
  Downstream berth(up_.url(), "foreign_layers: {enabled: true, include: [\"**\"]}");
  ASSERT_EQ(berth.image("win").getManifest("ltsc").status, 200);
  Response layer = berth.image("good").getBlob(allowed_.digest);
  ASSERT_EQ(layer.status, 200) << layer.describe();
  EXPECT_TRUE(layer.body == allowed_.bytes) << "served from the upstream's copy for this image";
  EXPECT_GE(up_.count("GET", "/v2/good/blobs/" + allowed_.digest), 1);
}

TEST_F(RemoteForeignLayers, DisabledLeavesEveryForeignLayerToTheClient) {
  Downstream berth(up_.url());
  ImageClient win = berth.image("win");
  EXPECT_EQ(win.getManifest("ltsc").body, img_.manifest.bytes);
  EXPECT_TRUE(isApiError(win.getBlob(allowed_.digest), 404, "BLOB_UNKNOWN"));
  EXPECT_TRUE(isApiError(win.getBlob(other_.digest), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(foreign_host_.total(), 0);
}

}  // namespace
}  // namespace berth::it

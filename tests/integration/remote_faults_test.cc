// Remote repositories against a ScriptedUpstream that misbehaves on purpose:
// 429 and 5xx, a dead upstream (the back-off), content that does not match
// its digest, 16 clients pulling one cold blob, a client that leaves in the
// middle, blob downloads redirected to another host.
#include <gtest/gtest.h>

#include <atomic>
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

class RemoteFaults : public ::testing::Test {
 protected:
  // A Berth over up_; metadata_ttl_seconds 0 makes every tag request ask the upstream.
  Downstream& berth(const std::string& extra = "metadata_ttl_seconds: 0") {
    if (!berth_) berth_ = std::make_unique<Downstream>(up_.url(), extra);
    return *berth_;
  }
  ImageClient app() { return berth().image("app"); }
  std::string blobPath(const std::string& digest) const { return "/v2/app/blobs/" + digest; }
  bool blobStored(const std::string& digest) {
    std::string hex = digest.substr(digest.find(':') + 1);
    for (const auto& f : filesUnder(berth().daemon().storageRoot() + "/blobs"))
      if (f.find(hex) != std::string::npos) return true;
    return false;
  }

  ScriptedUpstream up_;
  std::unique_ptr<Downstream> berth_;
};

TEST_F(RemoteFaults, TooManyRequestsIsPassedOnWhenNothingIsCachedAndTheCacheServesOtherwise) {
  Image img = makeImage(mt::kOciManifest, 2);
  up_.addImage("app", img, "v1");
  up_.on("*", "/v2/app/*", scripted::tooManyRequests(17));
  Response m = app().getManifest("v1");
  EXPECT_TRUE(isApiError(m, 429, "TOOMANYREQUESTS")) << m.describe();
  EXPECT_EQ(m.header("Retry-After"), "17");
  EXPECT_NE(m.body.find(up_.hostPort()), std::string::npos) << m.body;
  Response b = app().getBlob(img.layers[0].digest);
  EXPECT_TRUE(isApiError(b, 429, "TOOMANYREQUESTS")) << b.describe();
  EXPECT_EQ(b.header("Retry-After"), "17");

  up_.clearRoutes();
  expectPulls(app(), img, "v1");
  up_.on("*", "/v2/app/*", scripted::tooManyRequests(17));
  up_.resetCounts();
  expectPulls(app(), img, "v1");  // the tag is stale (TTL 0): asked, refused, served from the cache
  EXPECT_EQ(up_.count("HEAD", "/v2/app/manifests/v1"), 1);
  EXPECT_NE(berth().daemon().log().find("serving stale"), std::string::npos);
}

TEST_F(RemoteFaults, ServerErrorsAreUnavailableNamingTheUpstreamAndTheCacheServes) {
  Image img = makeImage(mt::kDockerManifest, 1);
  up_.addImage("app", img, "v1");
  for (int code : {500, 503}) {
    up_.on("*", "/v2/app/*", scripted::status(code));
    Response m = app().getManifest("v1");
    EXPECT_TRUE(isApiError(m, 503, "UNAVAILABLE")) << m.describe();
    EXPECT_NE(m.body.find(up_.hostPort()), std::string::npos) << m.body;
    EXPECT_NE(m.body.find(std::to_string(code)), std::string::npos) << m.body;
    EXPECT_TRUE(isApiError(app().getBlob(img.config.digest), 503, "UNAVAILABLE"));
  }
  up_.clearRoutes();
  expectPulls(app(), img, "v1");
  up_.on("*", "/v2/app/*", scripted::status(502));
  expectPulls(app(), img, "v1");
  expectPulls(app(), img, img.manifest.digest);
}

TEST_F(RemoteFaults, ADeadUpstreamIsRememberedForABackOff) {
  // Its port is bound but nothing listens: connections are refused.
  ScriptedUpstream down("127.0.0.1", /*listening=*/false);
  Image img = makeImage(mt::kOciManifest, 1);
  down.addImage("app", img, "v1");
  Downstream berth(down.url(), "metadata_ttl_seconds: 0");
  Response first = berth.image("app").getManifest("v1");
  EXPECT_TRUE(isApiError(first, 503, "UNAVAILABLE")) << first.describe();
  EXPECT_NE(first.body.find(down.hostPort()), std::string::npos) << first.body;
  EXPECT_NE(first.body.find("connection refused"), std::string::npos) << first.body;
  // Within the back-off nothing is tried, whatever the request, even once
  // the upstream is back.
  down.listen();
  Response again = berth.image("app").getManifest("v1");
  EXPECT_TRUE(isApiError(again, 503, "UNAVAILABLE")) << again.describe();
  EXPECT_NE(again.body.find("retrying shortly"), std::string::npos) << again.body;
  EXPECT_TRUE(isApiError(berth.image("app").getBlob(img.layers[0].digest), 503, "UNAVAILABLE"));
  EXPECT_TRUE(isApiError(berth.image("other").getManifest(img.manifest.digest), 503, "UNAVAILABLE"));
  EXPECT_EQ(down.total(), 0);
  // After it the upstream is asked again (the back-off is 10 s).
  EXPECT_TRUE(eventually([&] { return berth.image("app").getManifest("v1").status == 200; }, 15s));
  expectPulls(berth.image("app"), img, "v1");
}

TEST_F(RemoteFaults, ABlobThatDoesNotMatchItsDigestIsCutShortAndNotCached) {
  Blob real = Blob::random(3 << 20);
  std::string wrong = randomBytes(real.bytes.size());
  up_.addBlobAs("app", real.digest, wrong);
  // A pause on the way, so that the client is streaming when the digest fails.
  up_.on("GET", blobPath(real.digest), scripted::stallAfter(1 << 20, 300ms, up_.content()));
  uint64_t received = 0;
  std::string got;
  {
    HttpClient c = berth().newClient();
    Request req;
    req.target = "/v2/docker-remote/app/blobs/" + real.digest;
    EXPECT_THROW(c.send(req, [&](const char* d, std::size_t n) { received += n, got.append(d, n); }),
                 std::runtime_error);
  }
  EXPECT_LT(received, wrong.size()) << "never the whole wrong blob";
  EXPECT_EQ(got, wrong.substr(0, got.size()));
  EXPECT_FALSE(blobStored(real.digest));
  EXPECT_NE(berth().daemon().log().find("does not match digest"), std::string::npos);

  // Not cached: the next request asks again, and a corrected upstream works.
  up_.clearRoutes();
  up_.addBlob("app", real.bytes);
  Response ok = app().getBlob(real.digest);
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(ok.body == real.bytes);
  EXPECT_EQ(up_.count("GET", blobPath(real.digest)), 2);
  // The client has its last byte before the fetch has verified and installed
  // the blob (it serves as it receives): stored soon after, not necessarily yet.
  EXPECT_TRUE(eventually([&] { return blobStored(real.digest); }, 30s));
}

TEST_F(RemoteFaults, AManifestThatDoesNotMatchItsDigestIsAnErrorAndNotCached) {
  Image img = makeImage(mt::kOciManifest, 1), other = makeImage(mt::kOciManifest, 1);
  up_.addImage("app", img);
  // Served under other's digest (by digest and as the tag's digest).
  Manifest lying = img.manifest;
  lying.digest = other.manifest.digest;
  up_.addManifest("app", lying, "v1");
  Response by_digest = app().getManifest(other.manifest.digest);
  EXPECT_TRUE(isApiError(by_digest, 503, "UNAVAILABLE")) << by_digest.describe();
  EXPECT_NE(by_digest.body.find(up_.hostPort()), std::string::npos);
  Response by_tag = app().getManifest("v1");
  EXPECT_TRUE(isApiError(by_tag, 503, "UNAVAILABLE")) << by_tag.describe();
  // Nothing was cached: with the upstream gone, neither is known.
  up_.stop();
  EXPECT_NE(app().getManifest(other.manifest.digest).status, 200);
  EXPECT_NE(app().getManifest(img.manifest.digest).status, 200);
  EXPECT_NE(app().getManifest("v1").status, 200);
}

TEST_F(RemoteFaults, SixteenConcurrentColdPullsShareOneUpstreamFetch) {
  auto big = std::make_shared<const GeneratedBlob>(64 << 20, 42);
  up_.addGeneratedBlob("app", big);
  berth();
  std::vector<PulledBlob> pulled(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      HttpClient c = berth().newClient();
      pulled[i] = pullHashed(c, "/v2/docker-remote/app/blobs/" + big->digest());
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(pulled[i].status, 200) << "client " << i;
    EXPECT_EQ(pulled[i].size, big->size()) << "client " << i;
    EXPECT_EQ(pulled[i].digest, big->digest()) << "client " << i;
  }
  EXPECT_EQ(up_.count("GET", blobPath(big->digest())), 1);
  up_.stop();
  HttpClient c = berth().newClient();
  EXPECT_EQ(pullHashed(c, "/v2/docker-remote/app/blobs/" + big->digest()).digest, big->digest());
}

TEST_F(RemoteFaults, AFetchInFlightForOneImageIsNotJoinedByAnImageTheUpstreamDoesNotGiveIt) {
  Blob secret = Blob::random(2 << 20);
  up_.addBlob("secret", secret.bytes);
  up_.on("GET", "/v2/secret/blobs/" + secret.digest, scripted::stallAfter(1 << 20, 1s, up_.content()));
  berth();  // started from this thread (the daemon dies with the thread that forked it)
  std::thread owner([&] {
    HttpClient c = berth().newClient();
    Response r = c.get("/v2/docker-remote/secret/blobs/" + secret.digest);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == secret.bytes);
  });
  ASSERT_TRUE(eventually([&] { return up_.count("GET", "/v2/secret/blobs/" + secret.digest) == 1; }));
  // While that fetch is in flight: the upstream does not have it under app.
  EXPECT_TRUE(isApiError(app().getBlob(secret.digest), 404, "BLOB_UNKNOWN"));
  owner.join();
  EXPECT_TRUE(isApiError(app().getBlob(secret.digest), 404, "BLOB_UNKNOWN"));
  // An image that does have it upstream links the cached copy...
  up_.addBlob("app", secret.bytes);
  EXPECT_TRUE(app().getBlob(secret.digest).body == secret.bytes);
  // ...or joins the fetch in flight (a base layer many images share).
  Blob shared = Blob::random(2 << 20);
  up_.addBlob("secret", shared.bytes);
  up_.addBlob("app", shared.bytes);
  up_.on("GET", "/v2/secret/blobs/" + shared.digest, scripted::stallAfter(1 << 20, 1s, up_.content()));
  std::thread first([&] {
    HttpClient c = berth().newClient();
    EXPECT_TRUE(c.get("/v2/docker-remote/secret/blobs/" + shared.digest).body == shared.bytes);
  });
  ASSERT_TRUE(eventually([&] { return up_.count("GET", "/v2/secret/blobs/" + shared.digest) == 1; }));
  EXPECT_TRUE(app().getBlob(shared.digest).body == shared.bytes);
  first.join();
  EXPECT_EQ(up_.count("HEAD", blobPath(shared.digest)), 1);
  EXPECT_EQ(up_.count("GET", blobPath(shared.digest)), 0);
}

TEST_F(RemoteFaults, AClientLeavingMidBlobDoesNotStopTheFetch) {
  auto big = std::make_shared<const GeneratedBlob>(8 << 20, 5);
  up_.addGeneratedBlob("app", big);
  // Slow enough upstream that the client is gone long before the end.
  up_.on("GET", blobPath(big->digest()), scripted::stallAfter(1 << 20, 1500ms, up_.content()));
  {
    Socket s(berth().daemon().host(), berth().daemon().port());
    ASSERT_TRUE(s.writeAll("GET /v2/docker-remote/app/blobs/" + big->digest() + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string head = readUntil(s, "\r\n\r\n");
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  }  // closed after the head, with the upstream stalled
  EXPECT_TRUE(eventually([&] { return blobStored(big->digest()); }, 30s));
  EXPECT_EQ(up_.count("GET", blobPath(big->digest())), 1);
  up_.stop();
  HttpClient c = berth().newClient();
  PulledBlob again = pullHashed(c, "/v2/docker-remote/app/blobs/" + big->digest());
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.digest, big->digest());
}

TEST_F(RemoteFaults, BlobsRedirectedToAnotherHostGetNoAuthorization) {
  TokenIssuer issuer({.service = "scripted"});
  up_.requireBearer(issuer.realm(), "scripted", [&](const std::string& t) { return issuer.accepts(t); });
  ScriptedUpstream cdn("127.0.0.2");
  Image img = makeImage(mt::kOciManifest, 2);
  up_.addImage("app", img, "v1");
  cdn.addImage("app", img);
  up_.on("GET", "/v2/app/blobs/*", scripted::redirect(cdn.url(), 307));
  expectPulls(app(), img, "v1");
  EXPECT_EQ(cdn.count("GET", blobPath(img.layers[1].digest)), 1);
  for (const auto& r : cdn.requests()) EXPECT_FALSE(r.headers.has("Authorization")) << r.target;
  bool authorized_upstream = false;
  for (const auto& r : up_.requests())
    authorized_upstream |= r.path == blobPath(img.config.digest) && r.headers.has("Authorization");
  EXPECT_TRUE(authorized_upstream) << "the upstream itself gets the token";
  up_.stop();
  cdn.stop();
  expectPulls(app(), img, img.manifest.digest);
}

}  // namespace
}  // namespace berth::it

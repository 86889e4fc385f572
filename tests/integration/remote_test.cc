// Remote repositories against another Berth as the upstream (plain HTTP, no
// auth): cold and warm pulls, the cache surviving the upstream, tag TTL,
// offline mode, read-only refusals, eviction, shared fetches. The tests
// against distribution's registry, token auth, TLS and injected faults are in
// remote_upstreams_test.cc.
#include <gtest/gtest.h>
#include <stdio.h>

#include <memory>
#include <thread>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_.start();
    up_http_ = std::make_unique<HttpClient>(upstream_.host(), upstream_.port());
    startDownstream(extra_);
  }
  void TearDown() override {
    if (down_) finishDaemon(*down_, *http_, HasFailure());
    if (upstream_.running()) finishDaemon(upstream_, *up_http_, HasFailure());
  }

  void startDownstream(const std::string& extra) {
    DaemonOptions o;
    o.repositories = {"docker-local"};
    o.log_level = "info";
    o.repository_yaml = {"{key: docker-remote, type: remote, url: \"http://127.0.0.1:" +
                         std::to_string(upstream_.port()) + "\"" + extra + "}"};
    down_ = std::make_unique<Daemon>(o);
    down_->start();
    http_ = std::make_unique<HttpClient>(down_->host(), down_->port());
  }

  // The image docker-local/app upstream, seen through the remote.
  ImageClient upstreamApp() { return ImageClient(*up_http_, "/v2/docker-local/app"); }
  ImageClient remoteApp() { return ImageClient(*http_, "/v2/docker-remote/docker-local/app"); }

  void expectPulls(ImageClient img, const Image& image, const std::string& ref) {
    auto m = img.getManifest(ref);
    ASSERT_EQ(m.status, 200) << m.describe();
    EXPECT_EQ(m.body, image.manifest.bytes);
    EXPECT_EQ(m.header("Docker-Content-Digest"), image.manifest.digest);
    EXPECT_EQ(m.header("Content-Type"), image.manifest.media_type);
    auto c = img.getBlob(image.config.digest);
    ASSERT_EQ(c.status, 200) << c.describe();
    EXPECT_EQ(c.body, image.config.bytes);
    for (const auto& l : image.layers) {
      auto b = img.getBlob(l.digest);
      ASSERT_EQ(b.status, 200) << b.describe();
      EXPECT_EQ(b.body, l.bytes);
    }
  }

  std::string extra_;
  Daemon upstream_{upstreamOptions()};
  static DaemonOptions upstreamOptions() {
    DaemonOptions o;
    o.repositories = {"docker-local"};
    o.log_level = "info";  // the access log counts upstream requests
    return o;
  }
  std::unique_ptr<HttpClient> up_http_;
  std::unique_ptr<Daemon> down_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(RemoteTest, ColdPullThenServedFromTheCacheWithTheUpstreamStopped) {
  auto image = makeImage(mt::kDockerManifest, 3);
  upstreamApp().pushImage(image, "1");
  expectPulls(remoteApp(), image, "1");
  expectPulls(remoteApp(), image, image.manifest.digest);
  upstream_.stop();
  expectPulls(remoteApp(), image, "1");
  expectPulls(remoteApp(), image, image.manifest.digest);
  // Cached content survives a restart of Berth too.
  down_->restart();
  http_ = std::make_unique<HttpClient>(down_->host(), down_->port());
  expectPulls(remoteApp(), image, "1");
}

TEST_F(RemoteTest, MultiArchIndexAndItsChildren) {
  auto a = makeImage(mt::kOciManifest, 1), b = makeImage(mt::kOciManifest, 2);
  auto up = upstreamApp();
  up.pushImage(a);
  up.pushImage(b);
  auto index = makeIndex({a.manifest, b.manifest});
  ASSERT_EQ(up.putManifest("multi", index).status, 201);
  auto m = remoteApp().getManifest("multi");
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.body, index.bytes);
  EXPECT_EQ(m.header("Content-Type"), mt::kOciIndex);
  expectPulls(remoteApp(), a, a.manifest.digest);
  expectPulls(remoteApp(), b, b.manifest.digest);
}

TEST_F(RemoteTest, UnknownUpstreamContentIsUnknownHere) {
  auto img = remoteApp();
  EXPECT_TRUE(isApiError(img.getManifest("nope"), 404, "MANIFEST_UNKNOWN"));
  EXPECT_TRUE(isApiError(img.getBlob(sha256Of("nothing")), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(img.headBlob(sha256Of("nothing")).status, 404);
}

TEST_F(RemoteTest, PushesAreRefusedAndDeletesEvict) {
  auto image = makeImage(mt::kOciManifest, 1);
  upstreamApp().pushImage(image, "1");
  auto img = remoteApp();
  EXPECT_TRUE(isApiError(http_->post("/v2/docker-remote/docker-local/app/blobs/uploads/"), 405, "UNSUPPORTED"));
  EXPECT_TRUE(isApiError(img.putManifest("x", image.manifest), 405, "UNSUPPORTED"));
  expectPulls(img, image, "1");
  // Catalog: what is cached.
  auto cat = http_->get("/api/docker/docker-remote/v2/_catalog");
  ASSERT_EQ(cat.status, 200) << cat.describe();
  EXPECT_NE(cat.body.find("docker-local/app"), std::string::npos) << cat.body;
  EXPECT_EQ(img.deleteManifest(image.manifest.digest).status, 202);
  upstream_.stop();
  // Evicted: with the upstream gone, the tag can no longer be served.
  EXPECT_NE(img.getManifest(image.manifest.digest).status, 200);
}

TEST_F(RemoteTest, UpstreamDownWithNothingCachedIsUnavailableNamingIt) {
  upstream_.stop();
  auto r = remoteApp().getManifest("1");
  EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << r.describe();
  EXPECT_NE(r.body.find("127.0.0.1"), std::string::npos) << r.body;
}

TEST_F(RemoteTest, SixteenConcurrentColdPullsOfOneBlobAllGetIt) {
  auto big = Blob::random(24 << 20);
  auto image = makeImage(mt::kOciManifest, 0);
  image.layers.push_back(big);
  auto up = upstreamApp();
  ASSERT_EQ(up.pushBlob(big.bytes).status, 201);
  std::vector<std::thread> threads;
  std::vector<int> ok(16, 0);
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      HttpClient c(down_->host(), down_->port());
      auto r = ImageClient(c, "/v2/docker-remote/docker-local/app").getBlob(big.digest);
      ok[i] = r.status == 200 && r.body == big.bytes;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(ok[i]) << "client " << i;
  // One upstream fetch: the upstream's access log shows one GET of the blob.
  upstream_.stop();
  auto log = upstream_.log();
  std::size_t gets = 0;
  const std::string line = "method=GET path=/v2/docker-local/app/blobs/" + big.digest;
  for (auto p = log.find(line); p != std::string::npos; p = log.find(line, p + 1))
    ++gets;
  EXPECT_EQ(gets, 1u) << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
}

// The client's last byte waits for the digest check, not for the cache to be
// durable: a blob that cannot be stored (its shard of the blob directory is a
// file here) still reaches the client whole, and nothing is cached.
TEST_F(RemoteTest, AVerifiedBlobReachesTheClientEvenWhenCachingItFails) {
  auto blob = Blob::random(3 << 20);
  ASSERT_EQ(upstreamApp().pushBlob(blob.bytes).status, 201);
  const std::string shard = down_->storageRoot() + "/blobs/sha256/" + blob.digest.substr(7, 2);
  ASSERT_EQ(::rename(shard.c_str(), (shard + ".away").c_str()), 0) << shard;
  writeFile(shard, "not a directory");
  auto r = remoteApp().getBlob(blob.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.body == blob.bytes) << "got " << r.body.size() << " of " << blob.bytes.size() << " bytes";
  upstream_.stop();
  auto again = remoteApp().getBlob(blob.digest);
  EXPECT_TRUE(isApiError(again, 503, "UNAVAILABLE")) << again.describe();
}

class RemoteTtlTest : public RemoteTest {
 protected:
  RemoteTtlTest() { extra_ = ", metadata_ttl_seconds: 1"; }
};

TEST_F(RemoteTtlTest, ATagIsRecheckedAfterItsTtlAndStaleServedWhenTheUpstreamIsDown) {
  auto v1 = makeImage(mt::kOciManifest, 1), v2 = makeImage(mt::kOciManifest, 1);
  auto up = upstreamApp();
  up.pushImage(v1, "latest");
  EXPECT_EQ(remoteApp().getManifest("latest").header("Docker-Content-Digest"), v1.manifest.digest);
  up.pushImage(v2, "latest");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(remoteApp().getManifest("latest").header("Docker-Content-Digest"), v2.manifest.digest);
  upstream_.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto stale = remoteApp().getManifest("latest");
  ASSERT_EQ(stale.status, 200) << stale.describe();
  EXPECT_EQ(stale.header("Docker-Content-Digest"), v2.manifest.digest);
  EXPECT_NE(down_->log().find("serving stale"), std::string::npos);
}

class RemoteOfflineTest : public RemoteTest {
 protected:
  RemoteOfflineTest() { extra_ = ", offline: true"; }
};

TEST_F(RemoteOfflineTest, NeverAsksTheUpstream) {
  auto image = makeImage(mt::kOciManifest, 1);
  upstreamApp().pushImage(image, "1");
  EXPECT_TRUE(isApiError(remoteApp().getManifest("1"), 404, "MANIFEST_UNKNOWN"));
  EXPECT_TRUE(isApiError(remoteApp().getBlob(image.config.digest), 404, "BLOB_UNKNOWN"));
}

}  // namespace
}  // namespace berth::it

namespace berth::it {
namespace {

TEST_F(RemoteTest, AHeadOfAnUncachedBlobAsksTheUpstreamWithoutDownloadingIt) {
  auto blob = Blob::random(1 << 20);
  ASSERT_EQ(upstreamApp().pushBlob(blob.bytes).status, 201);
  auto head = remoteApp().headBlob(blob.digest);
  ASSERT_EQ(head.status, 200) << head.describe();
  EXPECT_EQ(head.header("Content-Length"), std::to_string(blob.bytes.size()));
  upstream_.stop();
  auto log = upstream_.log();
  const std::string path = "path=/v2/docker-local/app/blobs/" + blob.digest;
  EXPECT_NE(log.find("method=HEAD " + path), std::string::npos) << log;
  EXPECT_EQ(log.find("method=GET " + path), std::string::npos) << log;
}

}  // namespace
}  // namespace berth::it

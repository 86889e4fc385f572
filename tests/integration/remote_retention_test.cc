// A remote repository's cache_retention_hours with the real daemon and
// another Berth as the upstream (docs/remote-repositories.md, "Cache
// retention"): a GC run evicts the cached images nobody pulled for the
// period and frees their blobs, keeps the ones pulled since, and the next
// pull fetches an evicted image again; 0 evicts nothing; pulls racing
// collections always get the image.
//
// Time is not waited for: the test dates a cached manifest back in the
// daemon's metadata database (SQLite in WAL mode takes a second writer),
// as if it had been cached and last pulled hours ago.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "integration/remote_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> contentOf(const Image& img) {
  std::vector<std::string> out{img.config.digest, img.manifest.digest};
  for (const auto& l : img.layers) out.push_back(l.digest);
  return out;
}

class RemoteRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DaemonOptions up;
    up.repositories = {"docker-local"};
    up.log_level = "info";  // the access log counts upstream requests
    upstream_ = std::make_unique<Daemon>(up);
    upstream_->start();
    up_http_ = std::make_unique<HttpClient>(upstream_->host(), upstream_->port());
    ImageClient(*up_http_, "/v2/docker-local/old").pushImage(old_, "1");
    ImageClient(*up_http_, "/v2/docker-local/new").pushImage(new_, "1");
  }
  void TearDown() override {
    if (down_) finishDaemon(*down_, *http_, HasFailure());
    if (upstream_->running()) finishDaemon(*upstream_, *up_http_, HasFailure());
  }

  void startDownstream(const std::string& retention) {
    DaemonOptions o;
    o.repositories = {"docker-local"};
    o.log_level = "info";  // each run's summary line
    std::string url = "http://127.0.0.1:" + std::to_string(upstream_->port());
    o.repository_yaml = {remoteit::remoteYaml("docker-remote", url, "cache_retention_hours: " + retention)};
    // No periodic run; each test asks for its own, which frees at once.
    o.environment = {"BERTH_GC_INTERVAL_MINUTES=0", "BERTH_GC_GRACE_PERIOD_MINUTES=0"};
    down_ = std::make_unique<Daemon>(o);
    down_->start();
    http_ = std::make_unique<HttpClient>(down_->host(), down_->port());
  }
  ImageClient remote(const std::string& name) { return ImageClient(*http_, "/v2/docker-remote/docker-local/" + name); }

  bool cached(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return fs::exists(down_->storageRoot() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex);
  }
  // Pulls the image and waits until its whole content is in the cache (the
  // cache completes after the client has its bytes).
  void pullAndCache(const std::string& name, const Image& img) {
    remoteit::expectPulls(remote(name), img, "1");
    auto all = contentOf(img);
    remoteit::eventually([&] { return std::all_of(all.begin(), all.end(), [&](auto& d) { return cached(d); }); });
    for (const auto& d : all) ASSERT_TRUE(cached(d)) << d;
  }
  // As if the image's manifests had been cached, and last pulled, `hours`
  // ago. Written with the daemon stopped (then started again, on another
  // port): a second process writing the live database beside it was seen to
  // lose writes in this test, so the test does not do it.
  void makeOld(const std::string& name, int hours) {
    down_->stop();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((down_->storageRoot() + "/metadata.db").c_str(), &db), SQLITE_OK);
    int64_t ago = int64_t{hours} * 3600;
    std::string sql = "UPDATE manifests SET created=created-" + std::to_string(ago) +
                      ", used=0 WHERE repo='docker-remote' AND name='docker-local/" + name + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    EXPECT_GE(sqlite3_changes(db), 1);
    sqlite3_close(db);
    down_->start();
    http_->retarget(down_->host(), down_->port());
  }
  nlohmann::json gc() {
    auto r = http_->post("/api/system/storage/gc");
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.status == 200 ? r.json() : nlohmann::json::object();
  }
  // GETs of the image's tag `1` the upstream answered.
  std::size_t upstreamManifestGets(const std::string& name) const {
    auto log = upstream_->log();
    const std::string line = "method=GET path=/v2/docker-local/" + name + "/manifests/1";
    std::size_t n = 0;
    for (auto p = log.find(line); p != std::string::npos; p = log.find(line, p + 1)) ++n;
    return n;
  }

  Image old_ = makeImage(mt::kOciManifest, 2), new_ = makeImage(mt::kOciManifest, 2);
  std::unique_ptr<Daemon> upstream_;
  std::unique_ptr<HttpClient> up_http_;
  std::unique_ptr<Daemon> down_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(RemoteRetentionTest, UnusedImageIsEvictedAndFreedAPulledOneStaysAndTheNextPullFetchesAgain) {
  startDownstream("24");
  pullAndCache("old", old_);
  pullAndCache("new", new_);
  // Both cached two days ago; `new` is pulled again now (by tag, then its
  // content by digest), which records its use.
  makeOld("old", 48);
  makeOld("new", 48);
  remoteit::expectPulls(remote("new"), new_, "1");
  remoteit::expectPulls(remote("new"), new_, new_.manifest.digest);

  auto r = gc();
  EXPECT_EQ(r["evictedManifests"], 1) << r.dump();
  EXPECT_EQ(r["evictedTags"], 1) << r.dump();
  EXPECT_EQ(r["blobs"], contentOf(old_).size()) << r.dump();  // its manifest, config and layers
  for (const auto& d : contentOf(old_)) EXPECT_FALSE(cached(d)) << d;
  for (const auto& d : contentOf(new_)) EXPECT_TRUE(cached(d)) << d;
  EXPECT_NE(down_->log().find("gc: docker-remote: evicted 1 cached manifests and 1 tags"), std::string::npos)
      << down_->log();
  std::string catalog = http_->get("/v2/_catalog").body;
  EXPECT_EQ(catalog.find("docker-local/old"), std::string::npos) << catalog;
  EXPECT_NE(catalog.find("docker-local/new"), std::string::npos) << catalog;

  // The evicted image comes from the upstream again, the other from the cache.
  pullAndCache("old", old_);
  upstream_->stop();
  EXPECT_EQ(upstreamManifestGets("old"), 2u) << "the first pull and the one after the eviction";
  remoteit::expectPulls(remote("old"), old_, "1");
  remoteit::expectPulls(remote("new"), new_, "1");
  EXPECT_EQ(gc()["evictedManifests"], 0);
}

TEST_F(RemoteRetentionTest, ZeroKeepsTheCacheForEver) {
  startDownstream("0");
  pullAndCache("old", old_);
  makeOld("old", 24 * 365 * 10);
  auto r = gc();
  EXPECT_EQ(r["evictedManifests"], 0) << r.dump();
  EXPECT_EQ(r["blobs"], 0) << r.dump();
  for (const auto& d : contentOf(old_)) EXPECT_TRUE(cached(d)) << d;
  upstream_->stop();
  remoteit::expectPulls(remote("old"), old_, "1");
}

TEST_F(RemoteRetentionTest, DryRunCountsTheEvictionAndChangesNothing) {
  startDownstream("1");
  pullAndCache("old", old_);
  makeOld("old", 2);
  auto r = http_->post("/api/system/storage/gc?dryRun=true");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["evictedManifests"], 1) << r.body;
  EXPECT_EQ(r.json()["evictedTags"], 1) << r.body;
  for (const auto& d : contentOf(old_)) EXPECT_TRUE(cached(d)) << d;
  upstream_->stop();
  remoteit::expectPulls(remote("old"), old_, "1");
}

// Pulls racing collections that evict the same image: each round dates the
// image back, then pulls it while collections run back to back. Every pull
// gets the whole image, from the cache or from the upstream again, never an
// error or a manifest whose layers were swept.
TEST_F(RemoteRetentionTest, PullsRacingEvictionsAlwaysGetTheImage) {
  startDownstream("1");
  pullAndCache("old", old_);
  int evictions = 0;
  for (int round = 0; round < 5 && !HasFailure(); ++round) {
    makeOld("old", 2);
    std::atomic<bool> done{false};
    std::atomic<int> evicted{0};
    std::thread collector([&] {
      HttpClient c(down_->host(), down_->port());
      while (!done) {
        auto r = c.post("/api/system/storage/gc");
        EXPECT_EQ(r.status, 200) << r.describe();
        if (r.status == 200) evicted += r.json()["evictedManifests"].get<int>();
      }
    });
    HttpClient c(down_->host(), down_->port());
    ImageClient image(c, "/v2/docker-remote/docker-local/old");
    for (int i = 0; i < 10 && !HasFailure(); ++i) {
      remoteit::expectPulls(image, old_, "1");
      remoteit::expectPulls(image, old_, old_.manifest.digest);
    }
    done = true;
    collector.join();
    evictions += evicted;
  }
  // Whether a collection or the first pull comes first varies from run to
  // run: reported, not asserted.
  std::cout << "[ info     ] 5 rounds, " << evictions << " evicted the image" << std::endl;
}

}  // namespace
}  // namespace berth::it

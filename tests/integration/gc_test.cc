// Online garbage collection with the real daemon (docs/lifecycle.md,
// "Garbage collection"): what a run frees after deletes, the grace period,
// blobs uploaded whose manifest never came, dry runs, upload TTL, who may
// ask, `berth gc` offline, and pushes racing a collection that loops with a
// grace period of 0.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "integration/auth_support.h"
#include "integration/lifecycle_support.h"
#include "integration/remote_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

// An image over the given layers, with a config of its own.
Image imageWith(const std::vector<Blob>& layers) {
  Image img;
  img.layers = layers;
  nlohmann::json descs = nlohmann::json::array();
  for (const auto& l : layers) descs.push_back(descriptorOf(mt::kOciLayer, l));
  img.config = Blob::of(nlohmann::json{{"architecture", "amd64"}, {"os", "linux"}, {"nonce", sha256Of(randomBytes(8))}}
                            .dump());
  img.manifest = Manifest::of(mt::kOciManifest, {{"schemaVersion", 2},
                                                 {"mediaType", mt::kOciManifest},
                                                 {"config", descriptorOf(mt::kOciConfig, img.config)},
                                                 {"layers", descs}});
  return img;
}

std::vector<std::string> contentOf(const Image& img) {
  std::vector<std::string> out{img.config.digest, img.manifest.digest};
  for (const auto& l : img.layers) out.push_back(l.digest);
  return out;
}

// Config and layers, then the manifest; a push whose blobs a collection took
// before its manifest came (MANIFEST_BLOB_UNKNOWN) starts again, as a client
// would. The collector in the test loops with a grace period of 0 (and a
// pause between runs, without which a loaded machine can starve a push).
void pushRestarting(ImageClient& client, const Image& img, const std::string& tag) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    for (const Blob* b : {&img.config, &img.layers[0], &img.layers[1]})
      ASSERT_EQ(client.pushBlob(b->bytes).status, 201) << b->digest;
    auto r = client.putManifest(tag, img.manifest);
    if (r.status == 201) return;
    ASSERT_EQ(r.status, 400) << r.describe();
    ASSERT_EQ(r.errorCode(), "MANIFEST_BLOB_UNKNOWN") << r.describe();
  }
  ADD_FAILURE() << "no push of " << client.url() << ":" << tag << " in 1000 attempts";
}

uint64_t bytesOf(const Image& img) {
  uint64_t n = img.config.bytes.size() + img.manifest.bytes.size();
  for (const auto& l : img.layers) n += l.bytes.size();
  return n;
}

DaemonOptions infoLogs() {
  DaemonOptions o;
  o.log_level = "info";  // each run's summary line
  return o;
}

class GcTest : public RegistryTest {
 protected:
  GcTest() : RegistryTest(infoLogs()) {}
  void SetUp() override {
    // The daemon's config plus the gc section (0 minutes: no periodic run).
    writeFile(daemon_.configPath(), readFile(daemon_.configPath()) + "gc: {interval_minutes: 0, grace_period_minutes: " +
                                        std::to_string(grace_minutes_) + "}\n");
    RegistryTest::SetUp();
  }
  nlohmann::json gc(const std::string& query = "") {
    auto r = http_.post("/api/system/storage/gc" + query);
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.status == 200 ? r.json() : nlohmann::json::object();
  }
  bool stored(const std::string& digest) const { return fs::exists(blobPath(digest)); }

  unsigned grace_minutes_ = 0;
};

TEST_F(GcTest, FreesWhatADeleteOrphanedAndKeepsWhatIsStillReferenced) {
  Image kept_elsewhere = makeImage(), other_tag = makeImage(), gone = makeImage();
  local_.pushImage(kept_elsewhere, "1");
  image("/v2/docker-dev/other").pushImage(kept_elsewhere, "1");
  local_.pushImage(other_tag, "2");
  ImageClient gone_client = image("/v2/docker-local/gone");
  gone_client.pushImage(gone, "1");
  ASSERT_EQ(http_.del("/artifactory/docker-local/app/1").status, 204);
  ASSERT_EQ(http_.del("/artifactory/docker-local/gone").status, 204);
  auto before = blobFiles().size();

  auto r = gc();
  EXPECT_EQ(r["blobs"], 4) << r.dump();  // config, two layers, manifest
  EXPECT_EQ(r["bytes"], bytesOf(gone));
  EXPECT_EQ(r["dryRun"], false);
  EXPECT_TRUE(r.contains("durationMs") && r.contains("uploads"));
  EXPECT_EQ(blobFiles().size(), before - 4);
  for (const auto& d : contentOf(gone)) EXPECT_FALSE(stored(d)) << d;
  ImageClient other = image("/v2/docker-dev/other");
  lifeit::expectPulls(other, kept_elsewhere, "1");
  lifeit::expectPulls(local_, other_tag, "2");
  EXPECT_EQ(gc()["blobs"], 0);
  EXPECT_NE(daemon_.log().find("gc: freed 4 blobs"), std::string::npos) << daemon_.log();
  // Two runs, what they freed, and when the last one ended, for Prometheus.
  std::string m = http_.get("/metrics").body;
  EXPECT_NE(m.find("berth_gc_runs_total{outcome=\"ok\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_gc_freed_blobs_total 4\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_gc_freed_bytes_total " + std::to_string(bytesOf(gone)) + "\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_gc_duration_seconds_count 2\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("berth_gc_last_success_timestamp_seconds 0\n"), std::string::npos) << m;
}

TEST_F(GcTest, DryRunFreesNothing) {
  Image gone = makeImage();
  local_.pushImage(gone, "1");
  ASSERT_EQ(http_.del("/artifactory/docker-local/app").status, 204);
  auto r = gc("?dryRun=true");
  EXPECT_EQ(r["blobs"], 4);
  EXPECT_EQ(r["bytes"], bytesOf(gone));
  EXPECT_EQ(r["dryRun"], true);
  for (const auto& d : contentOf(gone)) EXPECT_TRUE(stored(d)) << d;
  EXPECT_NE(http_.get("/metrics").body.find("berth_gc_runs_total{outcome=\"ok\"} 0\n"), std::string::npos)
      << "dry runs are not counted";
  EXPECT_EQ(gc()["blobs"], 4);
  EXPECT_API_ERROR(http_.post("/api/system/storage/gc?dryRun=maybe"), 400, "BAD_REQUEST");
}

TEST_F(GcTest, UploadIdleBeyondTheTtlIsRemoved) {
  auto started = local_.startUpload();
  ASSERT_EQ(started.status, 202);
  std::string location = started.header("Location");
  std::string uuid = location.substr(location.rfind('/') + 1);
  std::string file = daemon_.storageRoot() + "/uploads/" + uuid;
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(gc()["uploads"], 0) << "idle for less than upload_ttl_hours (24)";
  int64_t old = static_cast<int64_t>(std::time(nullptr)) - 25 * 3600;
  struct timespec times[2] = {{old, 0}, {old, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  EXPECT_EQ(gc()["uploads"], 1);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_API_ERROR(local_.patchChunk(location, "more"), 404, "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(GcTest, OnlyPost) {
  EXPECT_EQ(http_.get("/api/system/storage/gc").status, 405);
  EXPECT_EQ(http_.post("/artifactory/api/system/storage/gc").status, 200);
}

// Pushes racing a collection that loops with grace 0: images share base
// layers, and each worker deletes an image and pushes the same bytes again
// (install then finds the file it is about to need, unreferenced: the race
// that would lose it). Afterwards every image that should exist pulls byte
// for byte, before and after a final collection.
TEST_F(GcTest, ConcurrentPushesLoseNothing) {
  std::vector<Blob> bases{Blob::random(4096), Blob::random(5000), Blob::random(6000)};
  constexpr int kWorkers = 4, kRounds = 12;
  std::atomic<bool> done{false};
  std::atomic<int> runs{0};
  std::thread collector([&] {
    HttpClient c = newClient();
    while (!done) {
      auto r = c.post("/api/system/storage/gc");
      EXPECT_EQ(r.status, 200) << r.describe();
      ++runs;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<std::vector<std::pair<std::string, Image>>> kept(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&, w] {
      HttpClient c = newClient();
      ImageClient client(c, "/v2/docker-local/w" + std::to_string(w));
      for (int i = 0; i < kRounds; ++i) {
        Image img = imageWith({bases[std::size_t(i + w) % bases.size()], Blob::random(2048)});
        std::string tag = std::to_string(i);
        pushRestarting(client, img, tag);
        // Delete it; its own layer, config and manifest become garbage ...
        EXPECT_EQ(c.del("/artifactory/docker-local/w" + std::to_string(w) + "/" + tag).status, 204);
        // ... and the same bytes are pushed again while the collector sweeps.
        pushRestarting(client, img, tag + "-again");
        kept[std::size_t(w)].emplace_back(tag + "-again", img);
      }
    });
  for (auto& t : workers) t.join();
  done = true;
  collector.join();
  EXPECT_GT(runs.load(), 0);
  for (int pass = 0; pass < 2; ++pass) {
    for (int w = 0; w < kWorkers; ++w) {
      ImageClient client = image("/v2/docker-local/w" + std::to_string(w));
      for (const auto& [tag, img] : kept[std::size_t(w)]) lifeit::expectPulls(client, img, tag);
    }
    if (pass == 0) gc();
  }
}

// A push cut before its manifest (a client that gave up, a kill -9): its
// blobs are held by their links alone, and go after the grace period (0 here).
TEST_F(GcTest, BlobsUploadedWhoseManifestNeverCameGo) {
  Image img = makeImage();
  for (const Blob* b : {&img.config, &img.layers[0]}) ASSERT_EQ(local_.pushBlob(b->bytes).status, 201);
  auto dry = gc("?dryRun=true");
  EXPECT_EQ(dry["blobs"], 2) << dry.dump();
  EXPECT_EQ(local_.headBlob(img.config.digest).status, 200) << "a dry run changes nothing";
  auto r = gc();
  EXPECT_EQ(r["blobs"], 2) << r.dump();
  EXPECT_EQ(r["bytes"], img.config.bytes.size() + img.layers[0].bytes.size());
  for (const Blob* b : {&img.config, &img.layers[0]}) {
    EXPECT_FALSE(stored(b->digest));
    EXPECT_API_ERROR(local_.getBlob(b->digest), 404, "BLOB_UNKNOWN");
  }
  // The manifest, come late, names blobs the registry no longer has.
  EXPECT_API_ERROR(local_.putManifest("1", img.manifest), 400, "MANIFEST_BLOB_UNKNOWN");
  local_.pushImage(img, "1");
  lifeit::expectPulls(local_, img, "1");
}

// Linked in two repositories, referenced by a manifest in one: the blobs
// stay, and so do the other repository's links (a client that HEADs them
// there can push its manifest).
TEST_F(GcTest, BlobsAManifestReferencesKeepTheirLinksEverywhere) {
  Image img = makeImage();
  local_.pushImage(img, "1");
  ImageClient other = image("/v2/docker-dev/other");
  std::vector<std::string> blobs{img.config.digest, img.layers[0].digest, img.layers[1].digest};
  for (const auto& d : blobs) ASSERT_EQ(other.mount(d, "docker-local/app").status, 201) << d;
  EXPECT_EQ(gc()["blobs"], 0);
  for (const auto& d : blobs) EXPECT_EQ(other.headBlob(d).status, 200) << d;
  EXPECT_EQ(other.putManifest("1", img.manifest).status, 201);
  lifeit::expectPulls(other, img, "1");
}

class GcGraceTest : public GcTest {
 protected:
  GcGraceTest() { grace_minutes_ = 60; }
};

TEST_F(GcGraceTest, RecentGarbageWaitsForTheGracePeriod) {
  Image gone = makeImage();
  local_.pushImage(gone, "1");
  ASSERT_EQ(http_.del("/artifactory/docker-local/app").status, 204);
  EXPECT_EQ(gc()["blobs"], 0);
  for (const auto& d : contentOf(gone)) EXPECT_TRUE(stored(d)) << d;
}

TEST_F(GcGraceTest, BlobsUploadedRecentlyWaitForTheirManifest) {
  Image img = makeImage();
  for (const Blob* b : {&img.config, &img.layers[0], &img.layers[1]}) ASSERT_EQ(local_.pushBlob(b->bytes).status, 201);
  EXPECT_EQ(gc()["blobs"], 0);
  EXPECT_EQ(local_.headBlob(img.layers[0].digest).status, 200);
  EXPECT_EQ(local_.putManifest("1", img.manifest).status, 201);
  lifeit::expectPulls(local_, img, "1");
}

TEST_F(GcTest, OfflineCommand) {
  Image gone = makeImage(), kept = makeImage();
  local_.pushImage(gone, "1");
  local_.pushImage(kept, "2");
  ASSERT_EQ(http_.del("/artifactory/docker-local/app/1").status, 204);

  auto busy = runBerth({"gc", "--config", daemon_.configPath()});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("a berth server is using this storage root"), std::string::npos) << busy.err;

  http_.close();
  ASSERT_EQ(daemon_.stop(), 0);
  auto dry = runBerth({"gc", "--config", daemon_.configPath(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("dry run: would free 4 blobs (" + std::to_string(bytesOf(gone)) + " bytes)"),
            std::string::npos)
      << dry.out;
  for (const auto& d : contentOf(gone)) EXPECT_TRUE(stored(d)) << d;
  auto real = runBerth({"gc", "--config", daemon_.configPath()});
  EXPECT_EQ(real.exit_code, 0) << real.err;
  EXPECT_NE(real.out.find("freed 4 blobs"), std::string::npos) << real.out;
  for (const auto& d : contentOf(gone)) EXPECT_FALSE(stored(d)) << d;

  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
  lifeit::expectPulls(local_, kept, "2");
}

// A remote's cache, grace period 0: the layers its cached manifest names stay;
// a blob a client pulled alone (no manifest cached) goes, and the next pull
// fetches it again.
TEST(GcRemoteTest, ACachedBlobNoCachedManifestNamesGoesAndIsFetchedAgain) {
  DaemonOptions up_options;
  up_options.repositories = {"docker-local"};
  Daemon upstream(up_options);
  upstream.start();
  HttpClient up(upstream.host(), upstream.port());
  Image image = makeImage(), other = makeImage();
  ImageClient(up, "/v2/docker-local/app").pushImage(image, "1");
  ImageClient(up, "/v2/docker-local/app").pushImage(other, "2");

  DaemonOptions o;
  o.repositories = {"docker-local"};
  o.repository_yaml = {remoteit::remoteYaml("docker-remote", "http://127.0.0.1:" + std::to_string(upstream.port()))};
  o.environment = {"BERTH_GC_INTERVAL_MINUTES=0", "BERTH_GC_GRACE_PERIOD_MINUTES=0"};
  Daemon down(o);
  down.start();
  HttpClient http(down.host(), down.port());
  ImageClient remote(http, "/v2/docker-remote/docker-local/app");
  remoteit::expectPulls(remote, image, "1");
  const Blob& alone = other.layers[0];
  ASSERT_EQ(remote.getBlob(alone.digest).status, 200);
  // The cache completes after the client has its bytes: each file appears
  // under the fence that also commits its record, so a run from here sees both.
  auto cached = [&](const std::string& digest) {
    std::string hex = digest.substr(7);
    return fs::exists(down.storageRoot() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex);
  };
  std::vector<std::string> all = contentOf(image);
  all.push_back(alone.digest);
  remoteit::eventually([&] { return std::all_of(all.begin(), all.end(), cached); });
  for (const auto& d : all) ASSERT_TRUE(cached(d)) << d;

  auto r = http.post("/api/system/storage/gc");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["blobs"], 1) << r.json().dump();
  EXPECT_FALSE(cached(alone.digest));
  for (const auto& d : contentOf(image)) EXPECT_TRUE(cached(d)) << d;
  remoteit::expectPulls(remote, image, "1");
  auto again = remote.getBlob(alone.digest);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.body, alone.bytes);
  finishDaemon(down, http, ::testing::Test::HasFailure());
  finishDaemon(upstream, up, ::testing::Test::HasFailure());
}

// ---- who may ask ----
class GcAuthTest : public authit::SecureTest {
 protected:
  void SetUp() override {
    writeFile(daemon_.configPath(), authit::configYaml(opts_, daemon_.storageRoot()) +
                                        "gc: {interval_minutes: 0, grace_period_minutes: 0}\n");
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
  }
};

TEST_F(GcAuthTest, AdministratorsOnly) {
  EXPECT_API_ERROR(anon().post("/api/system/storage/gc"), 401, "UNAUTHORIZED");
  EXPECT_NE(anon().post("/api/system/storage/gc").header("WWW-Authenticate").find("Basic"), std::string::npos);
  for (const char* user : {"reader", "deployer", "manager"})
    EXPECT_API_ERROR(as(user).post("/api/system/storage/gc"), 403, "DENIED") << user;
  auto token = dockerToken("root", {"repository:docker-dev/app:pull"});
  EXPECT_EQ(withBearer(token).post("/api/system/storage/gc").status, 401);
  EXPECT_EQ(as("root").post("/api/system/storage/gc").status, 200);
  EXPECT_EQ(as("opsguy").post("/artifactory/api/system/storage/gc?dryRun=true").status, 200);
}

}  // namespace
}  // namespace berth::it

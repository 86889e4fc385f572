// Online garbage collection with the real daemon (docs/lifecycle.md,
// "Garbage collection"): what a run frees after deletes, the grace period,
// dry runs, upload TTL, who may ask, `berth gc` offline, and pushes racing a
// collection that loops with a grace period of 0.
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <thread>

#include "integration/auth_support.h"
#include "integration/lifecycle_support.h"
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
        client.pushImage(img, tag);
        // Delete it; its own layer, config and manifest become garbage ...
        EXPECT_EQ(c.del("/artifactory/docker-local/w" + std::to_string(w) + "/" + tag).status, 204);
        // ... and the same bytes are pushed again while the collector sweeps.
        client.pushImage(img, tag + "-again");
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

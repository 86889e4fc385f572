// The health routes: /health/live, /health/ready, /api/system/ping. They
// answer without credentials, readiness fails for each of its checks (the
// storage root, the free-space floor, a shutdown under way), and a failure
// is logged once, not at every probe.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Polls GET target (a fresh connection each time) until it answers `status`; at most 10 s.
Response pollUntil(const std::string& host, uint16_t port, const std::string& target, int status) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    HttpClient client(host, port, /*keep_alive=*/false);
    auto r = client.get(target);
    if (r.status == status || std::chrono::steady_clock::now() > deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// At info, so that the test sees what the daemon logs when it is ready again.
class HealthTest : public RegistryTest {
 protected:
  HealthTest() : RegistryTest(DaemonOptions{.log_level = "info"}) {}
};

TEST_F(HealthTest, LiveReadyAndPingAnswerWhenAllIsWell) {
  auto live = http_.get("/health/live");
  EXPECT_EQ(live.status, 200) << live.describe();
  EXPECT_EQ(live.json(), nlohmann::json({{"status", "UP"}}));
  EXPECT_EQ(live.header("Cache-Control"), "no-store");

  auto ready = http_.get("/health/ready");
  EXPECT_EQ(ready.status, 200) << ready.describe();
  EXPECT_EQ(ready.header("Content-Type"), "application/json");
  auto body = ready.json();
  EXPECT_EQ(body["status"], "UP") << ready.body;
  for (const char* check : {"storage", "metadata", "disk", "shutdown"})
    EXPECT_EQ(body["checks"][check]["status"], "UP") << check << ": " << ready.body;
  EXPECT_EQ(ready.header("Cache-Control"), "no-store");

  for (const char* target : {"/api/system/ping", "/artifactory/api/system/ping"}) {
    auto ping = http_.get(target);
    EXPECT_EQ(ping.status, 200) << target << ": " << ping.describe();
    EXPECT_EQ(ping.body, "OK") << target;
    EXPECT_TRUE(ping.header("Content-Type").starts_with("text/plain")) << ping.describe();
  }
  auto head = http_.head("/health/ready");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  // The probe's scratch file is gone.
  EXPECT_EQ(tmpFiles(), std::vector<std::string>{});
}

TEST_F(HealthTest, OtherMethodsAre405WithAllow) {
  for (const char* target : {"/health/live", "/health/ready", "/api/system/ping"}) {
    for (auto r : {http_.post(target, "x"), http_.del(target), http_.put(target, "x")}) {
      EXPECT_EQ(r.status, 405) << target << ": " << r.describe();
      EXPECT_EQ(r.header("Allow"), "GET, HEAD") << target;
    }
  }
}

TEST_F(HealthTest, NotReadyWhenTheStorageRootTakesNoFile) {
  // Root may write anywhere a mode allows, so the directory writes go to is
  // replaced by a plain file: creating a file in it fails (ENOTDIR).
  const std::string tmp = daemon_.storageRoot() + "/tmp";
  fs::remove_all(tmp);
  writeFile(tmp, "not a directory");
  for (int i = 0; i < 3; ++i) {
    auto ready = http_.get("/health/ready");
    EXPECT_EQ(ready.status, 503) << ready.describe();
    auto body = ready.json();
    EXPECT_EQ(body["status"], "DOWN");
    EXPECT_EQ(body["checks"]["storage"]["status"], "DOWN") << ready.body;
    EXPECT_EQ(body["checks"]["metadata"]["status"], "UP") << ready.body;
    // What the client learns names no path and no system message.
    EXPECT_EQ(ready.body.find(daemon_.storageRoot()), std::string::npos) << ready.body;
    EXPECT_EQ(ready.body.find("Not a directory"), std::string::npos) << ready.body;
  }
  auto ping = http_.get("/api/system/ping");
  EXPECT_EQ(ping.status, 503);
  EXPECT_EQ(ping.body, "the storage root is not writable");
  EXPECT_EQ(http_.get("/health/live").status, 200) << "liveness does not depend on storage";
  // Logged once with the details, however many probes failed.
  EXPECT_EQ(count(daemon_.log(), "not ready:"), 1u) << daemon_.log();
  EXPECT_NE(daemon_.log().find(tmp), std::string::npos) << "the log names the directory: " << daemon_.log();

  fs::remove(tmp);
  fs::create_directory(tmp);
  EXPECT_EQ(http_.get("/health/ready").status, 200);
  EXPECT_EQ(http_.get("/api/system/ping").body, "OK");
  EXPECT_EQ(count(daemon_.log(), "ready again"), 1u) << daemon_.log();
}

class HealthFloorTest : public RegistryTest {
 protected:
  // 2^60 bytes free: no test machine has that.
  HealthFloorTest() : RegistryTest(DaemonOptions{.storage = "ready_min_free_bytes: 1152921504606846976"}) {}
};

TEST_F(HealthFloorTest, NotReadyBelowTheFreeSpaceFloorWhilePullsAndPushesGoOn) {
  auto ready = http_.get("/health/ready");
  EXPECT_EQ(ready.status, 503) << ready.describe();
  auto body = ready.json();
  EXPECT_EQ(body["checks"]["disk"]["status"], "DOWN") << ready.body;
  EXPECT_EQ(body["checks"]["disk"]["reason"], "free disk space is below the configured floor") << ready.body;
  EXPECT_EQ(body["checks"]["storage"]["status"], "UP") << ready.body;
  EXPECT_NE(daemon_.log().find("below storage.ready_min_free_bytes"), std::string::npos) << daemon_.log();
  // Readiness only reports: the registry itself keeps working.
  EXPECT_EQ(local_.pushBlob("still accepted").status, 201);
  EXPECT_EQ(http_.get("/health/live").status, 200);
}

// Readiness is for probes that have no credentials: it answers even where
// every other route needs a login.
class HealthSecureTest : public authit::SecureTest {
 protected:
  HealthSecureTest() {
    opts_.anonymous_access = false;
    opts_.force_authentication = "true";
  }
};

TEST_F(HealthSecureTest, AnswerWithoutCredentialsWhereEverythingElseNeedsThem) {
  EXPECT_EQ(anon().get("/v2/").status, 401);
  EXPECT_EQ(anon().get("/api/security/users").status, 401);
  EXPECT_EQ(anon().get("/health/live").status, 200);
  EXPECT_EQ(anon().get("/health/ready").status, 200);
  auto ping = anon().get("/api/system/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "OK");
  EXPECT_EQ(ping.header("WWW-Authenticate"), "");
}

// server.shutdown_delay_seconds: after SIGTERM the daemon keeps serving but
// is not ready, so that a load balancer can take it out first; a second
// signal ends the delay.
class HealthDrainTest : public RegistryTest {
 protected:
  HealthDrainTest() : RegistryTest(DaemonOptions{.log_level = "info", .server_extra = "shutdown_delay_seconds: 60"}) {}
};

TEST_F(HealthDrainTest, NotReadyWhileDrainingButServingUntilTheSecondSignal) {
  EXPECT_EQ(http_.get("/health/ready").status, 200);
  http_.close();
  ASSERT_EQ(::kill(daemon_.pid(), SIGTERM), 0);
  auto ready = pollUntil(daemon_.host(), daemon_.port(), "/health/ready", 503);
  ASSERT_EQ(ready.status, 503) << "still ready after SIGTERM: " << ready.describe();
  EXPECT_EQ(ready.json()["checks"]["shutdown"]["status"], "DOWN") << ready.body;
  EXPECT_EQ(ready.json()["checks"]["shutdown"]["reason"], "shutting down") << ready.body;
  EXPECT_EQ(http_.get("/api/system/ping").body, "shutting down");
  // New connections are still taken and served.
  HttpClient fresh(daemon_.host(), daemon_.port(), false);
  EXPECT_EQ(fresh.get("/health/live").status, 200);
  EXPECT_EQ(fresh.get("/v2/").status, 200);
  EXPECT_EQ(local_.pushBlob("pushed while draining").status, 201);
  EXPECT_NE(daemon_.log().find("shutdown_delay_seconds"), std::string::npos) << daemon_.log();
  // The second SIGTERM (Daemon::stop waits 15 s, a quarter of the delay) stops it at once.
  http_.close();
  EXPECT_EQ(daemon_.stop(), 0) << daemon_.log();
  EXPECT_NE(daemon_.log().find("second signal"), std::string::npos) << daemon_.log();
}

}  // namespace
}  // namespace berth::it

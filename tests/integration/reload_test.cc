// Reloading the config file without a restart (issue 11, docs/operations.md
// "Reloading"): SIGHUP and POST /api/system/reload apply repositories and
// security settings, refuse a config that does not validate, and leave
// connections and uploads in flight alone.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "integration/auth_support.h"
#include "integration/support/raw_http.h"

namespace berth::it {
namespace {

using authit::As;
using authit::basic;
using authit::pw;

class ReloadTest : public authit::SecureTest {
 protected:
  // docker-old is the repository the tests remove (no permission names it;
  // one that a permission names cannot go: the config would not validate).
  ReloadTest() { opts_.repository_yaml = {"{key: docker-old, type: local}"}; }
  // The config file from opts_, logging at info (the reload's summary line).
  void writeConfig() {
    std::string yaml = authit::configYaml(opts_, daemon_.storageRoot());
    yaml.replace(yaml.find("level: warn"), 11, "level: info");
    writeFile(daemon_.configPath(), yaml);
  }
  void SetUp() override {
    writeConfig();
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
  }
  std::size_t logged(const std::string& what) const {
    std::size_t n = 0;
    auto log = daemon_.log();
    for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  }
  // SIGHUP, then waits (at most 10 s) for the daemon to log `outcome` once more.
  bool sighup(const std::string& outcome) {
    std::size_t before = logged(outcome);
    if (::kill(daemon_.pid(), SIGHUP) != 0) return false;
    for (int i = 0; i < 400 && logged(outcome) == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return logged(outcome) > before;
  }
  Response reload(const std::string& who) {
    return (who.empty() ? anon() : as(who)).post("/api/system/reload");
  }
  // A raw request on `s` as root: the connection is the one the test opened.
  static std::string rawRequest(const std::string& method, const std::string& path) {
    return method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic("root", pw("root")) +
           "\r\nContent-Length: 0\r\n\r\n";
  }
};

// A loopback port another listener holds while it lives.
struct HeldPort {
  HeldPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot hold a loopback port");
    port = ntohs(a.sin_port);
  }
  ~HeldPort() { ::close(fd); }
  int fd = -1;
  uint16_t port = 0;
};

constexpr const char* kReloaded = "SIGHUP: configuration reloaded";
constexpr const char* kRefused = "SIGHUP: the configuration does not validate; the running configuration stays";

TEST_F(ReloadTest, SighupAddsAndRemovesRepositoriesOnAConnectionOpenedBefore) {
  Socket kept(daemon_.host(), daemon_.port());
  ASSERT_EQ(ask(kept, rawRequest("GET", "/v2/")).status, 200);
  ASSERT_EQ(ask(kept, rawRequest("POST", "/v2/docker-new/app/blobs/uploads/")).status, 404);
  opts_.repository_yaml = {"{key: docker-new, type: local}"};  // docker-old goes
  writeConfig();
  ASSERT_TRUE(sighup(kReloaded)) << daemon_.log();
  EXPECT_EQ(logged("added [docker-new], changed [], removed [docker-old]"), 1u) << daemon_.log();
  // The same connection: nothing was dropped, and it sees the new set.
  auto started = ask(kept, rawRequest("POST", "/v2/docker-new/app/blobs/uploads/"));
  EXPECT_EQ(started.status, 202) << started.describe();
  auto gone = ask(kept, rawRequest("GET", "/v2/docker-old/app/tags/list"));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.errorCode(), "NAME_UNKNOWN");
  auto img = makeImage();
  EXPECT_EQ(as("root").pushImage("/v2/docker-new/app", img, "v1").status, 201);
  EXPECT_EQ(as("root").getManifest("/v2/docker-new/app", "v1").status, 200);
}

TEST_F(ReloadTest, PostReloadAppliesAndSummarizes) {
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-old/app", img, "v1").status, 201);
  opts_.repository_yaml = {"{key: docker-new, type: local}"};
  opts_.repository_extra["docker-dev"] = "description: changed";
  writeConfig();
  auto r = reload("root");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto j = r.json();
  EXPECT_EQ(j["repositories"]["added"], nlohmann::json::array({"docker-new"}));
  EXPECT_EQ(j["repositories"]["changed"], nlohmann::json::array({"docker-dev"}));
  EXPECT_EQ(j["repositories"]["removed"], nlohmann::json::array({"docker-old"}));
  EXPECT_EQ(j["needsRestart"], nlohmann::json::array());
  EXPECT_EQ(as("root").pushImage("/v2/docker-new/app", img, "v1").status, 201);
  auto gone = as("root").getManifest("/v2/docker-old/app", "v1");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.errorCode(), "NAME_UNKNOWN");
  // Its content is still stored: putting the repository back brings it back.
  opts_.repository_yaml.push_back("{key: docker-old, type: local}");
  writeConfig();
  ASSERT_EQ(reload("root").status, 200);
  EXPECT_EQ(as("root").getManifest("/v2/docker-old/app", "v1").status, 200);
}

TEST_F(ReloadTest, OnlyAnAdministratorsLoginMayReload) {
  EXPECT_EQ(reload("").status, 401);
  EXPECT_EQ(reload("reader").status, 403);
  EXPECT_EQ(reload("opsguy").status, 200) << "an administrator through the ops group";
  EXPECT_EQ(anon().get("/api/system/reload").status, 405);
}

TEST_F(ReloadTest, AConfigThatDoesNotValidateIsRefusedAndTheOldOneServes) {
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-prod/app", img, "v1").status, 201);
  auto good = readFile(daemon_.configPath());
  auto bad = good;
  bad.replace(bad.find("shutdown_grace_seconds: 5"), 25, "shutdown_grace_seconds: soon");
  writeFile(daemon_.configPath(), bad);
  auto r = reload("root");
  ASSERT_EQ(r.status, 400) << r.describe();
  EXPECT_EQ(r.errorCode(), "BAD_REQUEST");
  auto detail = r.json()["errors"][0]["detail"];
  ASSERT_TRUE(detail.is_array()) << r.body;
  ASSERT_FALSE(detail.empty());
  EXPECT_GT(detail[0].value("line", 0), 0) << r.body;
  EXPECT_EQ(r.body.find(daemon_.dir()), std::string::npos) << "no file paths: " << r.body;
  EXPECT_EQ(as("root").getManifest("/v2/docker-prod/app", "v1").status, 200);
  // SIGHUP with the same file: logged with the file and line, nothing changes.
  ASSERT_TRUE(sighup(kRefused)) << daemon_.log();
  EXPECT_NE(daemon_.log().find(daemon_.configPath() + ":"), std::string::npos) << daemon_.log();
  EXPECT_EQ(as("root").getManifest("/v2/docker-prod/app", "v1").status, 200);
  // A valid file again is taken.
  writeFile(daemon_.configPath(), good);
  EXPECT_TRUE(sighup(kReloaded)) << daemon_.log();
}

TEST_F(ReloadTest, AnonymousAccessFollowsTheReloadedSetting) {
  // The standard model lets anonymous callers read docker-local's public/**.
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-local/public/app", img, "v1").status, 201);
  EXPECT_EQ(anon().getManifest("/v2/docker-local/public/app", "v1").status, 200);
  opts_.anonymous_access = false;
  writeConfig();
  ASSERT_EQ(reload("root").status, 200);
  EXPECT_EQ(anon().getManifest("/v2/docker-local/public/app", "v1").status, 401);
  opts_.anonymous_access = true;
  writeConfig();
  ASSERT_TRUE(sighup(kReloaded)) << daemon_.log();
  EXPECT_EQ(anon().getManifest("/v2/docker-local/public/app", "v1").status, 200);
}

TEST_F(ReloadTest, AnUploadBegunBeforeAReloadCompletesAfterIt) {
  auto blob = Blob::random(4096);
  auto root = as("root");
  auto started = root.post("/v2/docker-dev/app/blobs/uploads/");
  ASSERT_EQ(started.status, 202) << started.describe();
  std::string location = pathOf(started.header("Location"));
  auto first = root.send("PATCH", location, blob.bytes.substr(0, 1000), {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(first.status, 202) << first.describe();
  location = pathOf(first.header("Location"));
  // docker-dev changes (so its object is built anew) while the upload is open.
  opts_.repository_extra["docker-dev"] = "description: rebuilt";
  writeConfig();
  auto r = reload("root");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["repositories"]["changed"], nlohmann::json::array({"docker-dev"}));
  auto done = root.send("PUT", withQuery(location, "digest=" + blob.digest), blob.bytes.substr(1000),
                        {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(done.status, 201) << done.describe();
  auto got = root.getBlob("/v2/docker-dev/app", blob.digest);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, blob.bytes);
}

// A repository's own port opens, moves and closes with a reload; a
// connection accepted on a port that closes finishes what it does.
TEST_F(ReloadTest, RepositoryPortsOpenMoveAndCloseWithAReload) {
  const uint16_t first = freeLoopbackPort();
  opts_.repository_extra["docker-dev"] = "port: " + std::to_string(first);
  writeConfig();
  auto r = reload("root");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["needsRestart"], nlohmann::json::array());
  auto img = makeImage();
  ASSERT_EQ(as("root").pushImage("/v2/docker-dev/app", img, "v1").status, 201);
  Socket on_first(daemon_.host(), first);
  auto via_port = ask(on_first, rawRequest("GET", "/v2/app/manifests/v1"));
  EXPECT_EQ(via_port.status, 200) << "the port addresses docker-dev: /v2/<image>";

  const uint16_t second = freeLoopbackPort();
  opts_.repository_extra["docker-dev"] = "port: " + std::to_string(second);
  writeConfig();
  ASSERT_EQ(reload("root").status, 200);
  Socket on_second(daemon_.host(), second);
  EXPECT_EQ(ask(on_second, rawRequest("GET", "/v2/app/manifests/v1")).status, 200);
  EXPECT_EQ(ask(on_first, rawRequest("GET", "/v2/app/manifests/v1")).status, 200)
      << "a connection accepted before goes on";
  EXPECT_THROW(Socket(daemon_.host(), first), std::exception) << "the old port no longer accepts";

  // A port that cannot be had refuses the whole reload.
  HeldPort held;
  opts_.repository_extra["docker-dev"] = "port: " + std::to_string(held.port);
  opts_.repository_yaml = {"{key: docker-extra, type: local}"};
  writeConfig();
  auto refused = reload("root");
  EXPECT_EQ(refused.status, 400) << refused.describe();
  EXPECT_NE(refused.body.find("cannot listen on"), std::string::npos) << refused.body;
  EXPECT_EQ(as("root").get("/v2/docker-extra/app/tags/list").errorCode(), "NAME_UNKNOWN") << "nothing applied";
  EXPECT_EQ(ask(on_second, rawRequest("GET", "/v2/app/manifests/v1")).status, 200);

  opts_.repository_extra.erase("docker-dev");
  opts_.repository_yaml = {"{key: docker-old, type: local}"};
  writeConfig();
  ASSERT_EQ(reload("root").status, 200);
  EXPECT_THROW(Socket(daemon_.host(), second), std::exception);
}

}  // namespace
}  // namespace berth::it

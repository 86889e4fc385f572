// A repository's own listener (config `port:`): /v2/<image>/... there
// addresses that repository, as docker's registry-mirrors and containerd's
// hosts.toml expect (`docker pull alpine` through a mirror asks for
// /v2/library/alpine/manifests/latest, containerd adds ?ns=docker.io).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

// True when something accepts TCP connections on 127.0.0.1:port.
bool accepting(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

DaemonOptions withPort(uint16_t port) {
  DaemonOptions o;
  o.repository_extra = {{"docker-dev", "port: " + std::to_string(port)}};
  o.log_level = "info";  // the listeners' addresses are logged at info
  return o;
}

// docker-dev has the port; docker-local has none.
class RepositoryPortTest : public RegistryTest {
 protected:
  RepositoryPortTest() : RegistryTest(withPort(picked_ = freeLoopbackPort())) {}
  void SetUp() override {
    RegistryTest::SetUp();
    port_http_.retarget("127.0.0.1", port_);
  }
  void TearDown() override {
    port_http_.close();
    RegistryTest::TearDown();
  }
  ImageClient onPort(const std::string& image) { return ImageClient(port_http_, "/v2/" + image); }

  // Picked before the base class writes the config; members are initialized after it.
  static inline uint16_t picked_ = 0;
  uint16_t port_ = picked_;
  HttpClient port_http_{"127.0.0.1", 0};
};

TEST_F(RepositoryPortTest, PushAndPullByImageNameReachTheRepository) {
  Image img = makeImage(mt::kDockerManifest);
  onPort("library/alpine").pushImage(img, "latest");
  // The same image in docker-dev through the main port; not in docker-local.
  auto via_main = image("/v2/docker-dev/library/alpine").getManifest("latest");
  ASSERT_EQ(via_main.status, 200) << via_main.describe();
  EXPECT_EQ(via_main.body, img.manifest.bytes);
  EXPECT_API_ERROR(image("/v2/docker-local/library/alpine").getManifest("latest"), 404, "MANIFEST_UNKNOWN");
  // What was pushed on the main port is pulled by its bare name on the port.
  Image other = makeImage();
  image("/v2/docker-dev/team/app").pushImage(other, "1");
  auto pulled = onPort("team/app").getManifest("1");
  ASSERT_EQ(pulled.status, 200) << pulled.describe();
  EXPECT_EQ(pulled.header("Docker-Content-Digest"), other.manifest.digest);
  EXPECT_EQ(onPort("team/app").getBlob(other.layers[0].digest).body, other.layers[0].bytes);
  // Names, Locations and Links keep the port's layout.
  auto tags = onPort("library/alpine").tags();
  EXPECT_EQ(tags.json()["name"], "library/alpine") << tags.describe();
  EXPECT_EQ(tags.json()["tags"], nlohmann::json::array({"latest"}));
  auto started = onPort("library/alpine").startUpload();
  EXPECT_EQ(started.status, 202);
  EXPECT_TRUE(pathOf(started.header("Location")).starts_with("/v2/library/alpine/blobs/uploads/"))
      << started.describe();
  auto put = onPort("library/alpine").putManifest("2", img.manifest);
  EXPECT_EQ(put.header("Location"), "/v2/library/alpine/manifests/" + img.manifest.digest);
  auto catalog = port_http_.get("/v2/_catalog");
  EXPECT_EQ(catalog.json()["repositories"], nlohmann::json::array({"library/alpine", "team/app"})) << catalog.describe();
  auto paged = port_http_.get("/v2/_catalog?n=1");
  EXPECT_EQ(paged.header("Link"), "</v2/_catalog?last=library%2Falpine&n=1>; rel=\"next\"") << paged.describe();
}

TEST_F(RepositoryPortTest, BaseEndpointAnswersAsTheMainOne) {
  for (const char* path : {"/v2/", "/v2"}) {
    auto r = port_http_.get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
    EXPECT_EQ(r.json(), nlohmann::json::object());
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  }
}

TEST_F(RepositoryPortTest, TheMainPortIsUnaffected) {
  Image img = makeImage();
  local_.pushImage(img, "1");
  dev_.pushImage(img, "1");
  EXPECT_EQ(local_.getManifest("1").status, 200);
  EXPECT_EQ(http_.get("/api/docker/docker-dev/v2/app/manifests/1").status, 200);
  auto catalog = http_.get("/v2/_catalog");
  EXPECT_EQ(catalog.json()["repositories"], nlohmann::json::array({"docker-dev/app", "docker-local/app"}))
      << catalog.describe();
  // Another key's layout means an image of the port's repository there, never that key.
  EXPECT_API_ERROR(port_http_.get("/v2/docker-local/app/manifests/1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(onPort("app").getManifest("1").status, 200);
  // The Artifactory routes reach every repository on the port too, under access control as anywhere.
  EXPECT_EQ(port_http_.get("/api/docker/docker-local/v2/app/manifests/1").status, 200);
}

TEST_F(RepositoryPortTest, ContainerdNsQueryIsIgnored) {
  Image img = makeImage();
  onPort("library/alpine").pushImage(img, "3");
  const std::string ns = "ns=docker.io";
  auto m = port_http_.get("/v2/library/alpine/manifests/3?" + ns, {{"Accept", mt::kOciManifest}});
  EXPECT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.body, img.manifest.bytes);
  EXPECT_EQ(port_http_.head("/v2/library/alpine/manifests/" + img.manifest.digest + "?" + ns).status, 200);
  EXPECT_EQ(port_http_.get("/v2/library/alpine/blobs/" + img.config.digest + "?" + ns).body, img.config.bytes);
  EXPECT_EQ(port_http_.get("/v2/library/alpine/tags/list?n=10&" + ns).json()["tags"], nlohmann::json::array({"3"}));
  EXPECT_EQ(port_http_.get("/v2/?" + ns).status, 200);
  Blob b = Blob::random(64);
  auto pushed = port_http_.post("/v2/library/alpine/blobs/uploads/?" + ns + "&digest=" + b.digest, b.bytes,
                                {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(pushed.status, 201) << pushed.describe();
  EXPECT_EQ(dev_.http().get("/v2/docker-dev/library/alpine/blobs/" + b.digest).body, b.bytes);
}

TEST_F(RepositoryPortTest, UnknownShapesAreRefusedWithTheSpecError) {
  EXPECT_API_ERROR(port_http_.get("/v2/alpine"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(port_http_.get("/v2/library/alpine/nothing/x"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(port_http_.get("/v2/Library/alpine/tags/list"), 400, "NAME_INVALID");
  EXPECT_API_ERROR(port_http_.get("/v2/tags/list"), 400, "NAME_INVALID");
  EXPECT_API_ERROR(port_http_.get("/v2/library/alpine/manifests/latest"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(port_http_.get("/elsewhere"), 404, "NAME_UNKNOWN");
}

TEST_F(RepositoryPortTest, TheBoundAddressOfEachListenerIsLogged) {
  std::string log = daemon_.log();
  EXPECT_NE(log.find("listening on 127.0.0.1:" + std::to_string(daemon_.port())), std::string::npos) << log;
  EXPECT_NE(log.find("repository 'docker-dev' listening on 127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << log;
}

TEST_F(RepositoryPortTest, GracefulStopClosesEveryListenerAndRestartReopensThem) {
  Blob b = Blob::random(100);
  ASSERT_EQ(onPort("app").pushBlob(b.bytes).status, 201);
  ASSERT_EQ(port_http_.get("/v2/").status, 200);  // an idle keep-alive connection on the port
  ASSERT_EQ(http_.get("/v2/").status, 200);       // and one on the main port
  const uint16_t main_port = daemon_.port();
  EXPECT_EQ(daemon_.stop(), 0);
  EXPECT_FALSE(accepting(port_));
  EXPECT_FALSE(accepting(main_port));
  port_http_.close();
  restartDaemon();  // the same port again, right after the stop
  EXPECT_TRUE(accepting(port_));
  EXPECT_EQ(onPort("app").getBlob(b.digest).body, b.bytes);
}

// The App opens the port of a remote repository too. Offline, so that no
// upstream is ever contacted, whatever serves the remote.
TEST(RepositoryPortRemote, ARemoteRepositoryGetsItsListener) {
  Daemon daemon;
  const uint16_t port = freeLoopbackPort();
  writeFile(daemon.configPath(), "server: {listen: \"127.0.0.1:0\", shutdown_grace_seconds: 5}\n"
                                 "storage: {root: \"" + daemon.storageRoot() + "\"}\n"
                                 "log: {level: info, format: text}\n"
                                 "repositories:\n"
                                 "  - {key: docker-local, type: local}\n"
                                 "  - {key: docker-remote, type: remote, url: \"http://127.0.0.1:9/\", offline: true, port: " +
                                     std::to_string(port) + "}\n");
  daemon.start();
  HttpClient http("127.0.0.1", port);
  auto base = http.get("/v2/?ns=docker.io");
  EXPECT_EQ(base.status, 200) << base.describe();
  EXPECT_NE(daemon.log().find("repository 'docker-remote' listening on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << daemon.log();
  finishDaemon(daemon, http, ::testing::Test::HasFailure());
  EXPECT_FALSE(accepting(port));
}

}  // namespace
}  // namespace berth::it

// The command line: check-config, --version, startup failures, SIGTERM and SIGHUP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes a config file and runs `berth check-config --config <it>`.
  CommandResult checkConfig(const std::string& yaml) {
    writeFile(dir_ + "/berth.yml", yaml);
    return runBerth({"check-config", "--config", dir_ + "/berth.yml"});
  }
  std::string config(const std::string& listen, const std::string& repositories) const {
    return "server: {listen: \"" + listen + "\"}\nstorage: {root: \"" + dir_ + "/data\"}\n" +
           "log: {level: warn, format: text}\nrepositories: " + repositories + "\n";
  }
  std::string goodRepos() const { return "[{key: docker-local, type: local}, {key: docker-dev, type: local}]"; }
  // Expects a non-zero exit with `needle` in the message on stderr.
  static void expectRejected(const CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << "stdout: " << r.out;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr should name '" << needle << "': " << r.err;
  }

  std::string dir_ = makeTempDir();
};

TEST_F(CliTest, GoodConfigIsAccepted) {
  auto r = checkConfig(config("127.0.0.1:0", goodRepos()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, MinimalConfigIsAccepted) {
  auto r = checkConfig("repositories:\n  - key: docker-local\n    type: local\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliTest, KeyWithUnderscoreIsRejected) {
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: docker_local, type: local}]")), "docker_local");
}

TEST_F(CliTest, OtherBadKeysAreRejected) {
  for (const char* key : {"Docker-Local", "-local", ".local", "local/x", "docker local"}) {
    SCOPED_TRACE(key);
    expectRejected(checkConfig(config("127.0.0.1:0", std::string("[{key: \"") + key + "\", type: local}]")), key);
  }
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: \"" + std::string(65, 'a') + "\", type: local}]")),
                 std::string(65, 'a'));
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: dup, type: local}, {key: dup, type: local}]")), "dup");
}

TEST_F(CliTest, UnknownKeysAreRejected) {
  expectRejected(checkConfig(config("127.0.0.1:0", goodRepos()) + "bogus: 1\n"), "bogus");
  expectRejected(checkConfig("server: {listen: \"127.0.0.1:0\", colour: blue}\n"), "colour");
  expectRejected(checkConfig("storage: {root: /tmp/x, rooot: /tmp/y}\n"), "rooot");
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: docker-local, type: local, flavour: x}]")), "flavour");
}

TEST_F(CliTest, BadListenAddressIsRejected) {
  for (const char* listen : {"127.0.0.1:99999", "127.0.0.1:abc", "127.0.0.1", "127.0.0.1:-1"}) {
    SCOPED_TRACE(listen);
    auto r = checkConfig(config(listen, goodRepos()));
    expectRejected(r, "listen");
    expectRejected(r, listen);
  }
}

TEST_F(CliTest, BadRepositoryTypeAndYamlAreRejected) {
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: docker-local, type: cloud}]")), "cloud");
  expectRejected(checkConfig("server: [unclosed\n"), "YAML");
  auto missing = runBerth({"check-config", "--config", dir_ + "/does-not-exist.yml"});
  expectRejected(missing, "does-not-exist.yml");
}

// A socket listening on 127.0.0.1:<port()> for as long as it lives.
class Listening {
 public:
  Listening() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1:0");
    port_ = ntohs(addr.sin_port);
  }
  ~Listening() { ::close(fd_); }
  std::string port() const { return std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST_F(CliTest, RemoteRepositoriesAreAccepted) {
  std::string port = std::to_string(freeLoopbackPort());
  auto r = checkConfig(config("127.0.0.1:0", "[{key: docker-local, type: local}, {key: hub, type: remote, port: " +
                                                 port + "}, {key: mirror, type: remote, url: \"http://127.0.0.1:5999/\"}]"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 repositories"), std::string::npos) << r.out;
}

TEST_F(CliTest, ARemoteWithoutAUsableUrlIsRejected) {
  for (const char* url : {"ftp://registry.example", "registry.example", "https://", "https://a.example/?x=1", ""}) {
    SCOPED_TRACE(url);
    expectRejected(checkConfig(config("127.0.0.1:0", std::string("[{key: hub, type: remote, url: \"") + url + "\"}]")),
                   "repositories[0].url");
  }
  auto with_password = checkConfig(config("127.0.0.1:0", "[{key: hub, type: remote, url: \"https://u:hunter2@a.example\"}]"));
  expectRejected(with_password, "credentials");
  EXPECT_EQ(with_password.err.find("hunter2"), std::string::npos) << with_password.err;
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: hub, type: remote, username: u, password: \"${BERTH_CLI_UNSET}\"}]")),
                 "BERTH_CLI_UNSET");
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: docker-local, url: \"https://a.example\"}]")),
                 "only to a remote repository");
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: v, type: virtual, repositories: [v]}]")), "its own member");
}

TEST_F(CliTest, ACaFileThatCannotBeReadIsRejected) {
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: hub, type: remote, ca_file: " + dir_ + "/missing.pem}]")),
                 "repositories[0].ca_file '" + dir_ + "/missing.pem'");
  writeFile(dir_ + "/unreadable.pem", "-----BEGIN CERTIFICATE-----\n");
  std::filesystem::permissions(dir_ + "/unreadable.pem", std::filesystem::perms::none);
  if (::access((dir_ + "/unreadable.pem").c_str(), R_OK) != 0)  // root reads it anyway
    expectRejected(checkConfig(config("127.0.0.1:0", "[{key: hub, type: remote, ca_file: " + dir_ + "/unreadable.pem}]")),
                   "repositories[0].ca_file");
  writeFile(dir_ + "/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  auto ok = checkConfig(config("127.0.0.1:0", "[{key: hub, type: remote, ca_file: " + dir_ + "/ca.pem}]"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(CliTest, APortAlreadyUsedIsRejected) {
  expectRejected(checkConfig(config("127.0.0.1:5000", "[{key: hub, type: remote, port: 5000}]")),
                 "repositories[0].port 5000 of 'hub' is server.listen's port");
  expectRejected(checkConfig(config("127.0.0.1:0", "[{key: a, port: 5001}, {key: hub, type: remote, port: 5001}]")),
                 "also the port of repository 'a'");
  Listening taken;  // something else listens there
  auto r = checkConfig(config("127.0.0.1:0", "[{key: docker-local}, {key: hub, type: remote, port: " + taken.port() + "}]"));
  expectRejected(r, "repositories[1].port " + taken.port() + " of 'hub' cannot be bound on 127.0.0.1");
  expectRejected(r, "listening there already");
}

TEST_F(CliTest, ServeRefusesARepositoryPortInUse) {
  Listening taken;
  writeFile(dir_ + "/berth.yml", config("127.0.0.1:0", "[{key: docker-local, port: " + taken.port() + "}]"));
  auto r = runBerth({"--config", dir_ + "/berth.yml", "--ready-file", dir_ + "/ready"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ready"));
  EXPECT_NE((r.out + r.err).find("the port of repository 'docker-local'"), std::string::npos) << r.out << r.err;
}

TEST_F(CliTest, VersionIsPrinted) {
  auto r = runBerth({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with("berth ")) << r.out;
  EXPECT_NE(r.out.find_first_of("0123456789"), std::string::npos) << r.out;
}

TEST_F(CliTest, UnknownArgumentIsAnError) {
  auto r = runBerth({"--frobnicate"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
}

TEST_F(CliTest, ServeRefusesABadConfig) {
  writeFile(dir_ + "/berth.yml", config("127.0.0.1:0", "[{key: docker_local, type: local}]"));
  auto r = runBerth({"--config", dir_ + "/berth.yml", "--ready-file", dir_ + "/ready"});
  expectRejected(r, "docker_local");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ready"));
}

TEST_F(CliTest, ServeRefusesAPortInUse) {
  Daemon first;
  first.start();
  writeFile(dir_ + "/berth.yml", config("127.0.0.1:" + std::to_string(first.port()), goodRepos()));
  auto r = runBerth({"--config", dir_ + "/berth.yml", "--ready-file", dir_ + "/ready"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ready"));
  EXPECT_EQ(first.stop(), 0);
}

TEST(DaemonLifecycle, SigtermExitsZeroAndRestartKeepsData) {
  Daemon daemon;
  daemon.start();
  HttpClient http(daemon.host(), daemon.port());
  ImageClient img(http, "/v2/docker-local/app");
  ASSERT_EQ(img.pushBlob("persisted").status, 201);
  http.close();
  EXPECT_EQ(daemon.stop(), 0);
  daemon.start();
  http.retarget(daemon.host(), daemon.port());
  EXPECT_EQ(img.getBlob(sha256Of("persisted")).body, "persisted");
  http.close();
  EXPECT_EQ(daemon.stop(), 0);
}

// SIGHUP reloads the config file (docs/operations.md, "Reloading"); its
// default action would kill the daemon. reload_test.cc tests the details.
TEST(DaemonLifecycle, SighupReloadsTheConfigAndKeepsServing) {
  Daemon daemon;
  daemon.start();
  HttpClient http(daemon.host(), daemon.port());
  ASSERT_EQ(http.get("/v2/").status, 200);  // this connection stays open across the signals
  // repositories: is the last section of the file the fixture writes.
  writeFile(daemon.configPath(), readFile(daemon.configPath()) + "  - {key: docker-extra, type: local}\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  auto usable = [&] { return http.post("/v2/docker-extra/app/blobs/uploads/").status == 202; };
  bool reloaded = usable();
  for (int i = 0; i < 200 && !reloaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    reloaded = usable();
  }
  EXPECT_TRUE(reloaded) << daemon.log();
  auto logged = [&](const std::string& what) {
    for (int i = 0; i < 200 && daemon.log().find(what) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return daemon.log().find(what) != std::string::npos;
  };
  // A config that no longer validates is reported, and the daemon keeps the running one.
  writeFile(daemon.configPath(), "server: {listen: nowhere}\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  EXPECT_TRUE(logged("does not validate; the running configuration stays")) << daemon.log();
  EXPECT_TRUE(usable());
  http.close();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(DaemonLifecycle, SigtermWithAnIdleKeepAliveConnectionExitsPromptly) {
  Daemon daemon;
  daemon.start();
  HttpClient http(daemon.host(), daemon.port());
  ASSERT_EQ(http.get("/v2/").status, 200);  // the connection stays open
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace berth::it

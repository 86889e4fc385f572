// The command line: check-config, --version, startup failures and SIGTERM.
#include <filesystem>

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

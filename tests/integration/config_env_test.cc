// The real binary's configuration from the environment (BERTH_<KEY PATH>
// overrides, ${NAME} references) and check-config listing every problem
// with its line and column.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "integration/support/daemon.h"
#include "integration/support/http_client.h"

namespace berth::it {
namespace {

// A loopback port nothing listens on at the moment.
uint16_t unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs the binary with `name=value` added to its environment.
CommandResult runBerthWith(const std::string& name, const std::string& value, const std::vector<std::string>& args) {
  ::setenv(name.c_str(), value.c_str(), 1);
  auto r = runBerth(args);
  ::unsetenv(name.c_str());
  return r;
}

TEST(ConfigEnvironment, BerthServerListenMovesTheListener) {
  const uint16_t port = unusedPort();
  Daemon daemon({.environment = {"BERTH_SERVER_LISTEN=127.0.0.1:" + std::to_string(port)}});
  daemon.start();  // its file says 127.0.0.1:0
  EXPECT_EQ(daemon.port(), port);
  HttpClient http("127.0.0.1", port);
  EXPECT_EQ(http.get("/v2/").status, 200);
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(ConfigEnvironment, ARepositoryKeyIsAddressedByItsKey) {
  const uint16_t port = unusedPort();
  Daemon daemon({.environment = {"BERTH_REPOSITORIES_DOCKER_DEV_PORT=" + std::to_string(port)}});
  daemon.start();
  HttpClient mirror("127.0.0.1", port);
  EXPECT_EQ(mirror.get("/v2/").status, 200) << "docker-dev has a listener of its own on " << port;
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(ConfigEnvironment, AWrongOverrideStopsTheStartNamingTheVariable) {
  Daemon daemon;
  auto r = runBerthWith("BERTH_SERVER_WORKERS", "many", {"check-config", "--config", daemon.configPath()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("berth: invalid configuration: environment variable BERTH_SERVER_WORKERS: server.workers "
                       "has the wrong type"),
            std::string::npos)
      << r.err;
  r = runBerthWith("BERTH_STORAGE_ROTO", "/tmp", {"check-config", "--config", daemon.configPath()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("environment variable BERTH_STORAGE_ROTO: names no configuration key"), std::string::npos)
      << r.err;
  // Serving refuses it the same way.
  r = runBerthWith("BERTH_SERVER_WORKERS", "many", {"--config", daemon.configPath()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("BERTH_SERVER_WORKERS"), std::string::npos) << r.err;
}

TEST(ConfigEnvironment, ReferencesAreExpandedInAnyValue) {
  Daemon daemon;
  const std::string file = daemon.dir() + "/ref.yml";
  writeFile(file, "server: {listen: \"127.0.0.1:${BERTH_IT_PORT}\"}\nstorage: {root: \"" + daemon.dir() +
                      "/${BERTH_IT_SUBDIR}\"}\nrepositories: [{key: docker-local}]\n");
  ::setenv("BERTH_IT_SUBDIR", "data", 1);
  auto r = runBerthWith("BERTH_IT_PORT", "0", {"check-config", "--config", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ::unsetenv("BERTH_IT_SUBDIR");
  r = runBerth({"check-config", "--config", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file + ":1:18: server.listen refers to the environment variable BERTH_IT_PORT, which is not set"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("storage.root refers to the environment variable BERTH_IT_SUBDIR"), std::string::npos) << r.err;
}

TEST(ConfigEnvironment, CheckConfigListsEveryProblemWithItsLineAndColumn) {
  Daemon daemon;
  const std::string file = daemon.dir() + "/bad.yml";
  writeFile(file,
            "server:\n"
            "  listen: \"127.0.0.1:0\"\n"
            "  workers: many\n"
            "  colour: blue\n"
            "log:\n"
            "  level: loud\n"
            "repositories:\n"
            "  - key: docker_local\n"
            "  - key: hub\n"
            "    type: remote\n"
            "    timeout_seconds: 0\n");
  auto r = runBerthWith("BERTH_SERVER_MAX_CONNECTIONS", "0", {"check-config", "--config", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const std::string p = "berth: invalid configuration: " + file;
  EXPECT_EQ(r.err, p + ":3:12: server.workers has the wrong type (expected a non-negative integer)\n" +
                       p + ":4:3: unknown key server.colour\n" +
                       p + ":6:10: log.level must be one of trace|debug|info|warn|error|off\n" +
                       p + ":8:10: repositories[0].key 'docker_local': repository key must not contain '_' (the "
                           "Docker client cannot address such a repository)\n" +
                       p + ":11:22: repositories[1].timeout_seconds must be at least 1\n"
                       "berth: invalid configuration: environment variable BERTH_SERVER_MAX_CONNECTIONS: "
                       "server.max_connections must be at least 1\n");
}

}  // namespace
}  // namespace berth::it

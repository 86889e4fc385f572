// The repository management API against hostile callers (docs/api.md,
// "Repositories"): bodies of the wrong types, a manager who would send a
// remote's stored password to a server of their own, and a port given
// through the API that must not keep the daemon from starting.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/auth_support.h"

namespace berth::it {
namespace {

using nlohmann::json;

class RepositoryApiHostileTest : public authit::SecureTest {
 protected:
  RepositoryApiHostileTest() {
    // alice may manage any repository without being an administrator.
    opts_.extra_users = authit::userYaml("alice");
    opts_.extra_permissions = "    - {name: managers, repositories: [ANY], users: {alice: [read, manage]}}\n";
  }
  Response create(const std::string& who, const std::string& key, const json& body) {
    return as(who).put("/api/repositories/" + key, body.dump(), {{"Content-Type", "application/json"}});
  }
  Response update(const std::string& who, const std::string& key, const json& body) {
    return as(who).post("/api/repositories/" + key, body.dump(), {{"Content-Type", "application/json"}});
  }
};

TEST_F(RepositoryApiHostileTest, AnUpdateOfTheWrongTypesIsABadRequestNotAServerError) {
  ASSERT_EQ(create("root", "docker-team", {{"rclass", "local"}, {"description", "before"}}).status, 200);
  for (const json& body : {json{{"key", 5}}, json{{"rclass", 5}}, json{{"key", json::array()}},
                           json{{"rclass", true}}, json{{"key", "other"}}, json{{"rclass", "remote"}}}) {
    auto r = update("root", "docker-team", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.describe();
    EXPECT_EQ(r.errorCode(), "BAD_REQUEST") << body;
  }
  auto got = as("root").get("/api/repositories/docker-team").json();
  EXPECT_EQ(got["rclass"], "local");
  EXPECT_EQ(got["description"], "before");
}

TEST_F(RepositoryApiHostileTest, AStoredPasswordIsNotSentToAnotherUpstreamUnlessGivenAgain) {
  ASSERT_EQ(create("root", "hub",
                   {{"rclass", "remote"}, {"url", "http://127.0.0.1:9/"}, {"username", "svc"}, {"password", "s3cret"}})
                .status,
            200);
  // alice manages it but was never told the password: pointing the
  // repository at a server of hers would hand it over.
  auto moved = update("alice", "hub", {{"url", "http://127.0.0.1:10/"}});
  EXPECT_EQ(moved.status, 400) << moved.describe();
  EXPECT_NE(moved.body.find("password must be given again"), std::string::npos) << moved.body;
  EXPECT_EQ(as("root").get("/api/repositories/hub").json()["url"], "http://127.0.0.1:9");
  // The same url, other fields: the password stays.
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:9/"}, {"offline", true}}).status, 200);
  // With the password, or without one, the url may change.
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:10/"}, {"password", "other"}}).status, 200);
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:11/"}, {"username", nullptr}, {"password", nullptr}}).status, 200);
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:12/"}}).status, 200) << "no password left to leak";
  EXPECT_EQ(as("root").get("/api/repositories/hub").json()["url"], "http://127.0.0.1:12");
}

// A listening socket on 127.0.0.1 that the daemon cannot take: its port
// (`port`, or one the kernel picks).
class PortTaken {
 public:
  explicit PortTaken(int port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot take a port");
    port_ = ntohs(a.sin_port);
  }
  ~PortTaken() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(RepositoryApiHostileTest, APortGivenThroughTheApiThatCannotBeOpenedDoesNotKeepTheDaemonDown) {
  {
    // Taken when it is asked for: the change is refused, nothing changes.
    PortTaken taken;
    auto refused = create("alice", "mirror", {{"rclass", "local"}, {"port", taken.port()}});
    EXPECT_EQ(refused.status, 400) << refused.describe();
    EXPECT_NE(refused.body.find("cannot listen on"), std::string::npos) << refused.body;
    EXPECT_EQ(as("root").get("/api/repositories/mirror").status, 404);
  }
  // Free when asked for, taken by another program before the next start.
  const int port = PortTaken().port();
  auto r = create("alice", "mirror", {{"rclass", "local"}, {"port", port}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json()["needsRestart"], json::array());
  http_.close();
  daemon_.stop();
  PortTaken taken(port);
  writeFile(daemon_.configPath(), authit::configYaml(opts_, daemon_.storageRoot()));
  daemon_.start();  // throws if the daemon does not come up
  http_.retarget(daemon_.host(), daemon_.port());
  EXPECT_EQ(as("root").get("/v2/").status, 200);
  EXPECT_EQ(as("root").get("/api/repositories/mirror").json()["port"], port);
  EXPECT_NE(daemon_.log().find("(the port of repository 'mirror')"), std::string::npos);
  // Other changes are not refused for it meanwhile, and the API can put it right.
  EXPECT_EQ(create("alice", "other", {{"rclass", "local"}}).status, 200);
  EXPECT_EQ(update("alice", "mirror", {{"port", nullptr}}).status, 200);
}

TEST_F(RepositoryApiHostileTest, APortGivenThroughTheApiDoesNotTakeTheMetricsListenersPort) {
  int port = PortTaken().port();  // free again
  ASSERT_EQ(create("alice", "mirror", {{"rclass", "local"}, {"port", port}}).status, 200);
  // The config file comes to name the same port for the metrics.
  http_.close();
  writeFile(daemon_.configPath(), authit::configYaml(opts_, daemon_.storageRoot()) +
                                      "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n");
  daemon_.restart();  // throws if the daemon does not come up
  http_.retarget(daemon_.host(), daemon_.port());
  EXPECT_EQ(as("root").get("/v2/").status, 200);
  HttpClient metrics("127.0.0.1", static_cast<uint16_t>(port));
  EXPECT_EQ(metrics.get("/metrics").status, 200);
}

}  // namespace
}  // namespace berth::it

// `berth healthcheck` (the container's HEALTHCHECK) against the real daemon,
// and the start-up check of the storage root (a directory Berth may not
// write stops the start with what to do).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "integration/support/fixture.h"
#include "integration/support/pki.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

using HealthcheckTest = RegistryTest;

std::string addressOf(const Daemon& d) { return d.host() + ":" + std::to_string(d.port()); }

// A config that only names the address: healthcheck needs nothing else.
std::string writeListenConfig(const std::string& dir, const std::string& listen, const std::string& extra = "") {
  std::string path = dir + "/probe.yml";
  writeFile(path, "server: {listen: \"" + listen + "\"" + extra + "}\nstorage: {root: \"" + dir + "/unused\"}\n");
  return path;
}

TEST_F(HealthcheckTest, ExitsZeroWhenTheDaemonIsReady) {
  auto r = runBerth({"healthcheck", "--config", daemon_.configPath(), "--address", addressOf(daemon_)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("/health/ready: 200"), std::string::npos) << r.out;
  auto live = runBerth({"healthcheck", "--config", daemon_.configPath(), "--address", addressOf(daemon_), "--live"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_NE(live.out.find("/health/live: 200"), std::string::npos) << live.out;
}

TEST_F(HealthcheckTest, AsksTheLoopbackAddressOfAWildcardListenFromBerthConfig) {
  // What the image does: listen 0.0.0.0:PORT in the file BERTH_CONFIG names.
  std::string cfg = writeListenConfig(daemon_.dir(), "0.0.0.0:" + std::to_string(daemon_.port()));
  ::setenv("BERTH_CONFIG", cfg.c_str(), 1);
  auto r = runBerth({"healthcheck"});
  ::unsetenv("BERTH_CONFIG");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("http://127.0.0.1:" + std::to_string(daemon_.port()) + "/health/ready: 200"),
            std::string::npos)
      << r.out;
}

TEST_F(HealthcheckTest, ConfigFlagWinsOverBerthConfig) {
  std::string good = writeListenConfig(daemon_.dir(), addressOf(daemon_));
  ::setenv("BERTH_CONFIG", (daemon_.dir() + "/nosuch.yml").c_str(), 1);
  auto r = runBerth({"healthcheck", "--config", good});
  ::unsetenv("BERTH_CONFIG");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(HealthcheckTest, ExitsOneWithoutAnAnswer) {
  std::string dir = daemon_.dir();
  auto closed = runBerth({"healthcheck", "--config", daemon_.configPath(), "--address",
                          "127.0.0.1:" + std::to_string(freeLoopbackPort())});
  EXPECT_EQ(closed.exit_code, 1) << closed.out;
  EXPECT_NE(closed.out.find("berth healthcheck:"), std::string::npos) << closed.out;

  auto port0 = runBerth({"healthcheck", "--config", daemon_.configPath()});  // listen 127.0.0.1:0
  EXPECT_EQ(port0.exit_code, 1) << port0.out;
  EXPECT_NE(port0.out.find("--address"), std::string::npos) << port0.out;

  // Accepts (the kernel does, from the backlog) and never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto silent = runBerth({"healthcheck", "--config", daemon_.configPath(), "--timeout", "1", "--address",
                          "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  ::close(fd);
  EXPECT_EQ(silent.exit_code, 1) << silent.out;
  EXPECT_NE(silent.out.find("no answer in time"), std::string::npos) << silent.out;
}

class HealthcheckNotReadyTest : public RegistryTest {
 protected:
  HealthcheckNotReadyTest() : RegistryTest(DaemonOptions{.storage = "ready_min_free_bytes: 1152921504606846976"}) {}
};

TEST_F(HealthcheckNotReadyTest, ExitsOneWhenNotReadyButZeroForLive) {
  auto r = runBerth({"healthcheck", "--config", daemon_.configPath(), "--address", addressOf(daemon_)});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("503"), std::string::npos) << r.out;
  auto live = runBerth({"healthcheck", "--config", daemon_.configPath(), "--address", addressOf(daemon_), "--live"});
  EXPECT_EQ(live.exit_code, 0) << live.out;
}

// Over TLS the check does not verify the certificate: it asks its own
// daemon on loopback, whose certificate names the public host.
class HealthcheckTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_ = makeTlsFiles(dir_, {"DNS:registry.example.com"});
    daemon_ = std::make_unique<Daemon>(DaemonOptions{
        .server_extra = "tls: {cert: \"" + tls_.cert_file + "\", key: \"" + tls_.key_file + "\"}"});
    daemon_->start();
  }
  void TearDown() override {
    EXPECT_EQ(daemon_->stop(), 0);
    fs::remove_all(dir_);
  }
  std::string dir_ = makeTempDir();
  TlsFiles tls_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(HealthcheckTlsTest, SpeaksTlsWhenTheConfigHasIt) {
  auto r = runBerth({"healthcheck", "--config", daemon_->configPath(), "--address", addressOf(*daemon_)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("https://"), std::string::npos) << r.out;
}

// ---- the storage root at start ----

// Runs the berth binary as uid/gid 65534 when this process is root, so that
// modes apply; otherwise as this user. Exit code and stderr.
CommandResult runBerthUnprivileged(const std::vector<std::string>& args, const std::string& dir) {
  std::string err_path = dir + "/err";
  std::vector<std::string> all{BERTH_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), "", readFile(err_path)};
}

class StorageRootTest : public ::testing::Test {
 protected:
  void SetUp() override { ::chmod(dir_.c_str(), 0755); }  // the unprivileged run reads its config here
  void TearDown() override { fs::remove_all(dir_); }
  std::string config(const std::string& root) {
    std::string path = dir_ + "/berth.yml";
    writeFile(path, "server: {listen: \"127.0.0.1:0\"}\nstorage: {root: \"" + root +
                        "\"}\nlog: {level: info, format: text}\nrepositories: [{key: docker-local, type: local}]\n");
    ::chmod(path.c_str(), 0644);
    return path;
  }
  std::string uid() const { return ::geteuid() == 0 ? "65534" : std::to_string(::geteuid()); }
  std::string dir_ = makeTempDir();
};

TEST_F(StorageRootTest, UnwritableParentStopsTheStartWithWhatToDo) {
  // A root-owned bind mount, seen from a container running as another uid.
  const std::string locked = dir_ + "/volume";
  fs::create_directory(locked);
  ::chmod(locked.c_str(), 0555);
  auto r = runBerthUnprivileged({"--config", config(locked + "/data")}, dir_);
  ::chmod(locked.c_str(), 0755);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  for (const std::string& needle : std::vector<std::string>{
           "storage root '" + locked + "/data' cannot be created: Permission denied",
        "Berth runs as uid " + uid() + ", gid ", "'" + locked + "' (owner uid ", "mode 0555)",
           "chown -R " + uid() + ":", "docker run --user"})
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << r.err;
  EXPECT_FALSE(fs::exists(locked + "/data"));
}

TEST_F(StorageRootTest, DatabaseLeftByAnotherUserStopsTheStart) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to leave a file owned by another user";
  // A storage root the daemon's user owns, with a database file root left.
  const std::string root = dir_ + "/data";
  fs::create_directory(root);
  ASSERT_EQ(::chown(root.c_str(), 65534, 65534), 0);
  writeFile(root + "/metadata.db", "");
  auto r = runBerthUnprivileged({"--config", config(root)}, dir_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("'" + root + "/metadata.db' is not writable: Permission denied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chown -R 65534:65534"), std::string::npos) << r.err;
}

TEST_F(StorageRootTest, RootThatIsAFileIsRefused) {
  writeFile(dir_ + "/file", "x");
  auto r = runBerth({"--config", config(dir_ + "/file")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("exists and is not a directory"), std::string::npos) << r.err;
  auto below = runBerth({"--config", config(dir_ + "/file/data")});
  EXPECT_EQ(below.exit_code, 1) << below.err;
  EXPECT_NE(below.err.find("cannot be created: Not a directory"), std::string::npos) << below.err;
}

}  // namespace
}  // namespace berth::it

#include "integration/support/distribution_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "integration/support/daemon.h"
#include "integration/support/token_issuer.h"

namespace berth::it {
namespace fs = std::filesystem;
namespace {

constexpr const char* kBinary = "/usr/bin/docker-registry";
constexpr auto kStartTimeout = std::chrono::seconds(20);

pid_t spawnLogged(std::vector<std::string> args, const std::string& log_path) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // only async-signal-safe calls from here on
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log < 0) ::_exit(126);
    ::dup2(log, 1);
    ::dup2(log, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// The reaped exit status, or -1 while the process runs.
int exitedWith(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string tail(const std::string& s) { return s.size() <= 3000 ? s : "..." + s.substr(s.size() - 3000); }

}  // namespace

uint16_t pickFreePort(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &in.sin_addr);
  socklen_t len = sizeof in;
  bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&in), len) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error("cannot find a free port on " + host);
  return ntohs(in.sin_port);
}

std::string DistributionRegistry::binary() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (fs::exists(kBinary)) return;
    // A clean CI machine: install the test packages as scripts/test.sh would.
    std::string cmd = std::string("'") + BERTH_SOURCE_DIR + "/scripts/deps.sh' test >&2";
    if (std::system(cmd.c_str()) != 0 || !fs::exists(kBinary))
      throw std::runtime_error(std::string(kBinary) + " is missing and scripts/deps.sh test could not install it");
  });
  return kBinary;
}

DistributionRegistry::DistributionRegistry(DistributionOptions options)
    : options_(std::move(options)), dir_(makeTempDir()) {
  if (options_.tls) tls_ = makeTlsFiles(dir_);
  if (options_.token_auth) writeFile(dir_ + "/token-issuer.pem", options_.token_auth->certPem());
  try {
    start();
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

DistributionRegistry::~DistributionRegistry() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string DistributionRegistry::url() const { return (options_.tls ? "https://" : "http://") + hostPort(); }

HttpClient DistributionRegistry::client() const {
  return HttpClient(host_, port_, true, SocketOptions{.tls_ca_file = tls_.ca_file});
}

bool DistributionRegistry::hasBlob(const std::string& digest) const {
  std::string hex = digest.substr(digest.find(':') + 1);
  return fs::exists(storageRoot() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data");
}

std::string DistributionRegistry::log() const { return readFile(dir_ + "/registry.log"); }

int DistributionRegistry::requestsLogged(const std::string& method, const std::string& target) const {
  // Combined log format: ... "GET /v2/app/blobs/sha256:... HTTP/1.1" 200 ...
  const std::string needle = "\"" + method + " " + target + " HTTP/";
  std::string all = log();
  int n = 0;
  for (auto at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) ++n;
  return n;
}

void DistributionRegistry::writeConfig(uint16_t port) const {
  std::string y =
      "version: 0.1\n"
      "log: {level: " + options_.log_level + ", accesslog: {disabled: " + (options_.access_log ? "false" : "true") + "}}\n"
      "storage:\n"
      "  filesystem: {rootdirectory: \"" + storageRoot() + "\"}\n"
      "  delete: {enabled: true}\n"
      "  maintenance: {uploadpurging: {enabled: false}}\n"
      "http:\n"
      "  addr: \"" + host_ + ":" + std::to_string(port) + "\"\n"
      "  secret: berth-test-secret\n";  // else a warning on every start
  if (options_.tls) y += "  tls: {certificate: \"" + tls_.cert_file + "\", key: \"" + tls_.key_file + "\"}\n";
  if (const TokenIssuer* t = options_.token_auth)
    y += "auth:\n  token: {realm: \"" + t->realm() + "\", service: \"" + t->service() + "\", issuer: \"" +
         t->issuer() + "\", rootcertbundle: \"" + dir_ + "/token-issuer.pem\"}\n";
  if (!options_.proxy_remote_url.empty()) {
    y += "proxy:\n  remoteurl: \"" + options_.proxy_remote_url + "\"\n";
    if (!options_.proxy_username.empty())
      y += "  username: \"" + options_.proxy_username + "\"\n  password: \"" + options_.proxy_password + "\"\n";
  }
  if (!options_.manifest_urls_allow.empty())
    y += "validation:\n  manifests:\n    urls:\n      allow: ['" + options_.manifest_urls_allow + "']\n";
  writeFile(dir_ + "/config.yml", y);
}

void DistributionRegistry::start() {
  if (running()) throw std::runtime_error("docker-registry already running");
  // The port is released before the registry binds it, so another process may
  // take it in between: then the registry exits and we try another one.
  for (int attempt = 0; attempt < 5; ++attempt) {
    uint16_t port = attempt == 0 && port_ != 0 ? port_ : pickFreePort(host_);
    if (tryStart(port)) return;
  }
  fail("found no free port in 5 attempts");
}

bool DistributionRegistry::tryStart(uint16_t port) {
  writeConfig(port);
  std::size_t log_start = log().size();
  pid_ = spawnLogged({binary(), "serve", dir_ + "/config.yml"}, dir_ + "/registry.log");
  port_ = port;
  HttpClient probe = client();
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (int code = exitedWith(pid_); code >= 0) {
      pid_ = -1;
      if (log().find("address already in use", log_start) != std::string::npos) return false;
      fail("exited with code " + std::to_string(code) + " before it answered");
    }
    try {
      // Any answer from distribution (200, or 401 with token auth) means it is serving.
      if (probe.get("/v2/").headers.has("Docker-Distribution-Api-Version")) return true;
    } catch (const std::exception&) {
      probe.close();  // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fail("did not answer /v2/ within 20 s");
}

void DistributionRegistry::stop() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (exitedWith(pid_) >= 0) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void DistributionRegistry::fail(const std::string& why) {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  throw std::runtime_error("docker-registry " + why + "; log:\n" + tail(log()));
}

}  // namespace berth::it

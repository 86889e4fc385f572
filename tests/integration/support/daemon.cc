#include "integration/support/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "integration/support/http_client.h"

namespace berth::it {
namespace fs = std::filesystem;
namespace {

constexpr int kStartTimeoutMs = 10'000;
constexpr int kStopTimeoutMs = 15'000;

// Forks and execs BERTH_BINARY with stdout and stderr appended to log_path,
// with a soft limit of max_open_files descriptors when not 0.
pid_t spawn(const std::vector<std::string>& args, const std::string& log_path, const std::string& out_path = {},
            unsigned max_open_files = 0, std::vector<std::string> environment = {}) {
  std::vector<std::string> all{BERTH_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The test's environment with the additions replacing variables of the same name.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    bool overridden = false;
    for (const auto& add : environment)
      overridden = overridden || entry.substr(0, entry.find('=') + 1) == add.substr(0, add.find('=') + 1);
    if (!overridden) env_strings.push_back(entry);
  }
  env_strings.insert(env_strings.end(), environment.begin(), environment.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string& stdout_path = out_path.empty() ? log_path : out_path;
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // only async-signal-safe calls from here on
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
    int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err < 0 || out < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (max_open_files > 0) {
      struct rlimit lim {};
      ::getrlimit(RLIMIT_NOFILE, &lim);
      lim.rlim_cur = max_open_files;
      if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(125);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Exit code of a waitpid status: the code, or 128 + the signal.
int exitCodeOf(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string tail(const std::string& s, std::size_t n = 4000) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

std::string makeTempDir() {
  std::string tmpl = "/tmp/berth-it-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

uint16_t freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> filesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
  return out;
}

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)), dir_(makeTempDir()) { writeConfig(); }

Daemon::~Daemon() {
  if (running()) kill9();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void Daemon::writeConfig() const {
  std::string server_extra = options_.server_extra.empty() ? "" : ", " + options_.server_extra;
  // 5 s unless the test chose its own grace period.
  if (server_extra.find("shutdown_grace_seconds") == std::string::npos)
    server_extra = ", shutdown_grace_seconds: 5" + server_extra;
  std::string yaml = "server: {listen: \"127.0.0.1:0\"" + server_extra + "}\n"
                     "storage: {root: \"" + storageRoot() + "\"" +
                     (options_.storage.empty() ? "" : ", " + options_.storage) + "}\n"
                     "log: {level: " + options_.log_level + ", format: text}\n"
                     "repositories:\n";
  for (const auto& key : options_.repositories) {
    auto extra = options_.repository_extra.find(key);
    yaml += "  - {key: " + key + ", type: local" +
            (extra == options_.repository_extra.end() ? "" : ", " + extra->second) + "}\n";
  }
  for (const auto& entry : options_.repository_yaml) yaml += "  - " + entry + "\n";
  writeFile(configPath(), yaml);
}

void Daemon::start() {
  if (running()) throw std::runtime_error("daemon already running");
  const std::string ready = dir_ + "/ready";
  fs::remove(ready);
  std::vector<std::string> args{"--config", configPath(), "--ready-file", ready};
  auto env = options_.environment;
  if (options_.embedded_config) {
    // The embedded default, on a loopback port and this daemon's storage.
    args = {"--ready-file", ready};
    env.push_back("BERTH_LISTEN=127.0.0.1:0");
    env.push_back("BERTH_STORAGE_ROOT=" + storageRoot());
  }
  pid_ = spawn(args, dir_ + "/daemon.log", {}, options_.max_open_files, env);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  while (!fs::exists(ready)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      failStart("exited with code " + std::to_string(exitCodeOf(status)) + " before it was ready");
    }
    if (std::chrono::steady_clock::now() > deadline) failStart("no ready file after 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string address = readFile(ready);
  while (!address.empty() && (address.back() == '\n' || address.back() == '\r')) address.pop_back();
  std::tie(host_, port_) = splitHostPort(address);
}

void Daemon::failStart(const std::string& why) {
  if (running()) kill9();
  throw std::runtime_error("berth " + why + "; log:\n" + tail(log()));
}

int Daemon::waitExit(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return exitCodeOf(status);
    }
    if (r < 0) throw std::runtime_error("waitpid failed");
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int Daemon::stop() {
  if (!running()) throw std::runtime_error("daemon not running");
  ::kill(pid_, SIGTERM);
  int code = waitExit(kStopTimeoutMs);
  if (code < 0) {
    kill9();
    throw std::runtime_error("berth did not exit within 15 s of SIGTERM; log:\n" + tail(log()));
  }
  return code;
}

void Daemon::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  waitExit(kStopTimeoutMs);
}

void Daemon::restart() {
  if (running()) {
    if (int code = stop(); code != 0)
      throw std::runtime_error("berth exited with " + std::to_string(code) + " on SIGTERM; log:\n" + tail(log()));
  }
  start();
}

uint64_t Daemon::statusField(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1)) * 1024;  // "<n> kB"
  throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid_) + "/status");
}

uint64_t Daemon::peakRssBytes() const { return statusField("VmHWM"); }
uint64_t Daemon::rssBytes() const { return statusField("VmRSS"); }

std::string Daemon::log() const { return readFile(dir_ + "/daemon.log"); }

CommandResult runBerth(const std::vector<std::string>& args) {
  std::string dir = makeTempDir();
  pid_t pid = spawn(args, dir + "/err", dir + "/out");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult r{exitCodeOf(status), readFile(dir + "/out"), readFile(dir + "/err")};
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

}  // namespace berth::it

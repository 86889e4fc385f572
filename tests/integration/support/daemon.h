// The real berth binary (BERTH_BINARY) as a child process, in a fresh temp
// directory under /tmp that holds its config, storage root, ready file and
// log. The directory is removed when the Daemon is destroyed.
//
// Not thread-safe: drive one Daemon from one thread. Failures to start or stop
// throw std::runtime_error with the tail of the daemon's log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::it {

struct DaemonOptions {
  std::vector<std::string> repositories{"docker-local", "docker-dev"};
  std::string log_level = "warn";
  // More `server:` keys in YAML flow style, e.g. "max_buffered_body_bytes: 4194304"
  // (shutdown_grace_seconds is 5 unless given here).
  std::string server_extra = "";
  std::string storage = {};     // more "key: value, ..." for the storage section
  unsigned max_open_files = 0;  // the child's soft RLIMIT_NOFILE; 0 = inherited
  // More "key: value, ..." for a repository, by key, e.g. {"docker-dev", "port: 41234"}.
  std::map<std::string, std::string> repository_extra = {};
  // More repositories, each a YAML flow mapping: "{key: r, type: remote, url: ...}".
  std::vector<std::string> repository_yaml = {};
  // More "NAME=value" entries for the daemon's environment.
  std::vector<std::string> environment = {};
  // Serve the embedded default config (no --config) on 127.0.0.1:0 and this
  // daemon's storage root (BERTH_LISTEN, BERTH_STORAGE_ROOT).
  bool embedded_config = false;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options = {});
  ~Daemon();  // kills a daemon still running, removes the temp dir
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts the binary and waits (at most 10 s) for its ready file.
  void start();
  // SIGTERM, then waits; returns the exit code (128 + signal when killed).
  int stop();
  // SIGKILL, then reaps the process.
  void kill9();
  // stop() then start() on the same storage root; the port changes.
  void restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  const std::string& dir() const { return dir_; }
  std::string storageRoot() const { return dir_ + "/data"; }
  std::string configPath() const { return dir_ + "/berth.yml"; }

  // VmHWM (peak) and VmRSS of the running daemon, in bytes.
  uint64_t peakRssBytes() const;
  uint64_t rssBytes() const;

  // Everything the daemon wrote to stdout and stderr, over all its runs.
  std::string log() const;

 private:
  void writeConfig() const;
  int waitExit(int timeout_ms);
  uint64_t statusField(const std::string& field) const;
  [[noreturn]] void failStart(const std::string& why);

  DaemonOptions options_;
  std::string dir_;
  pid_t pid_ = -1;
  std::string host_;
  uint16_t port_ = 0;
};

// Runs the berth binary to completion with these arguments.
struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
CommandResult runBerth(const std::vector<std::string>& args);

// Regular files below dir (recursively), as paths relative to it; [] if dir is missing.
std::vector<std::string> filesUnder(const std::string& dir);
std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);
// A fresh directory under /tmp (mkdtemp).
std::string makeTempDir();
// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// closed), for a listener whose port the config must name (`port:`).
uint16_t freeLoopbackPort();

}  // namespace berth::it

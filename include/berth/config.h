// Plain configuration structs. Loaded once at startup (exceptions allowed
// there), then read-only and shared by every component.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::config {

struct Server {
  std::string listen = "0.0.0.0:5000";
  unsigned workers = 0;
  unsigned max_connections = 1024;
  unsigned idle_timeout_seconds = 120;
  unsigned read_timeout_seconds = 300;
  unsigned shutdown_grace_seconds = 30;
};

struct Log {
  std::string level = "info";
  std::string format = "json";
  bool access_log = true;
};

struct Storage {
  std::string root = "./data";
  unsigned upload_expiry_hours = 168;
};

enum class RepoType { Local, Remote, Virtual };

struct Repository {
  std::string key;
  RepoType type = RepoType::Local;
  std::string description;
};

struct Config {
  Server server;
  Log log;
  Storage storage;
  std::vector<Repository> repositories;
};

// The default compiled into the binary (config/berth.yml).
std::string_view embeddedDefaultYaml();

// Parses YAML text, applies environment overrides (BERTH_LISTEN,
// BERTH_STORAGE_ROOT, BERTH_LOG_LEVEL) and validates. Throws
// std::runtime_error with a message naming the offending key.
Config loadFromString(const std::string& yaml_text, const std::string& origin);
Config loadFromFile(const std::string& path);
Config loadDefault();

// host and port of server.listen; throws on a malformed value.
struct HostPort { std::string host; uint16_t port; };
HostPort parseListen(const std::string& listen);

}  // namespace berth::config

#include "berth/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "berth/core/ip_address.h"
#include "config/loader.h"
#include "config/repository_config.h"
#include "config/security_config.h"
#include "config/yaml_util.h"

namespace berth::config {
namespace {

// Labels of letters, digits and hyphens (not at either end), dot-separated.
bool isDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char ch : name) {
    if (ch == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(ch)) || (ch == '-' && label > 0)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = ch;
  }
  return label > 0 && prev != '-';
}

}  // namespace

void validateConfig(const Config& c, const std::string& origin) {
  // Each check below reports its problem and the checks go on, so that
  // check-config lists them all: this `bad` shadows the throwing one.
  const auto bad = [](const std::string& o, const std::string& what) { report(o, what); };
  try {
    parseListen(c.server.listen);
  } catch (const std::runtime_error& e) {
    bad(origin, e.what());  // name the file, as every other config error does
  }
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (!levels.count(c.log.level)) bad(origin, "log.level must be one of trace|debug|info|warn|error|off");
  if (c.log.format != "json" && c.log.format != "text") bad(origin, "log.format must be json or text");
  if (c.storage.root.empty()) bad(origin, "storage.root must not be empty");
  if (c.storage.metadata_sync != "full" && c.storage.metadata_sync != "normal")
    bad(origin, "storage.metadata_sync must be full or normal (got '" + c.storage.metadata_sync + "')");
  if (c.server.max_connections == 0) bad(origin, "server.max_connections must be at least 1");
  if (c.server.max_connections_per_client == 0) bad(origin, "server.max_connections_per_client must be at least 1");
  if (c.server.header_timeout_seconds == 0) bad(origin, "server.header_timeout_seconds must be at least 1");
  if (c.server.idle_timeout_seconds == 0) bad(origin, "server.idle_timeout_seconds must be at least 1");
  if (c.server.read_timeout_seconds == 0) bad(origin, "server.read_timeout_seconds must be at least 1");
  if (c.server.shutdown_delay_seconds > 3600) bad(origin, "server.shutdown_delay_seconds must be at most 3600");
  if (c.server.max_buffered_body_bytes < 4 * 1024 * 1024)
    bad(origin, "server.max_buffered_body_bytes must be at least 4194304 (one manifest of the maximum size)");
  for (std::size_t i = 0; i < c.server.trusted_proxies.size(); ++i)
    if (auto cidr = Cidr::parse(c.server.trusted_proxies[i]); !cidr)
      bad(origin, "server.trusted_proxies[" + std::to_string(i) + "]: " + cidr.error().message);
  if (!c.server.subdomain_base.empty() && !isDnsName(c.server.subdomain_base))
    bad(origin, "server.subdomain_base must be a DNS name such as registry.example.com (no port, no scheme), got '" +
                    c.server.subdomain_base + "'");
  carryOn([&] { validateRepositories(c, origin); });
  carryOn([&] { validateSecurity(c, origin); });
}

HostPort parseListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("server.listen must be host:port, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 0 || p > 65535)
    throw std::runtime_error("server.listen has an invalid port: '" + listen + "'");
  if (host.empty()) host = "0.0.0.0";
  return {host, static_cast<uint16_t>(p)};
}

Config parseDocument(YAML::Node root, const std::string& origin) {
  Config c;
  if (root && !root.IsNull()) {
    checkKnownKeys(root, {"server", "log", "storage", "repositories", "security", "metrics", "gc"}, origin, "");
    const auto s = root["server"];
    checkKnownKeys(s, {"listen", "workers", "max_connections", "max_connections_per_client",
                       "header_timeout_seconds", "idle_timeout_seconds", "read_timeout_seconds",
                       "min_body_bytes_per_second", "shutdown_grace_seconds", "shutdown_delay_seconds", "max_buffered_body_bytes", "tls",
                       "trusted_proxies", "subdomain_base"}, origin,
                      "server");
    read(s, "listen", c.server.listen, origin, "server");
    read(s, "workers", c.server.workers, origin, "server");
    read(s, "max_connections", c.server.max_connections, origin, "server");
    read(s, "max_connections_per_client", c.server.max_connections_per_client, origin, "server");
    read(s, "header_timeout_seconds", c.server.header_timeout_seconds, origin, "server");
    read(s, "idle_timeout_seconds", c.server.idle_timeout_seconds, origin, "server");
    read(s, "min_body_bytes_per_second", c.server.min_body_bytes_per_second, origin, "server");
    read(s, "read_timeout_seconds", c.server.read_timeout_seconds, origin, "server");
    read(s, "shutdown_grace_seconds", c.server.shutdown_grace_seconds, origin, "server");
    read(s, "shutdown_delay_seconds", c.server.shutdown_delay_seconds, origin, "server");
    read(s, "max_buffered_body_bytes", c.server.max_buffered_body_bytes, origin, "server");
    read(s, "trusted_proxies", c.server.trusted_proxies, origin, "server");
    read(s, "subdomain_base", c.server.subdomain_base, origin, "server");
    if (const auto tls = s["tls"]) {
      checkKnownKeys(tls, {"cert", "key", "redirect_plain_http"}, origin, "server.tls");
      read(tls, "cert", c.server.tls.cert, origin, "server.tls");
      read(tls, "key", c.server.tls.key, origin, "server.tls");
      read(tls, "redirect_plain_http", c.server.tls.redirect_plain_http, origin, "server.tls");
      if (c.server.tls.cert.empty() != c.server.tls.key.empty())
        report(origin, "server.tls needs both cert and key");
    }
    const auto l = root["log"];
    checkKnownKeys(l, {"level", "format", "access_log"}, origin, "log");
    read(l, "level", c.log.level, origin, "log");
    read(l, "format", c.log.format, origin, "log");
    read(l, "access_log", c.log.access_log, origin, "log");
    const auto st = root["storage"];
    checkKnownKeys(st, {"root", "upload_expiry_hours", "max_uploads_per_repository", "max_uploads_per_user",
                        "metadata_sync", "upload_cache_mib", "ready_min_free_bytes", "min_free_bytes"}, origin, "storage");
    read(st, "root", c.storage.root, origin, "storage");
    read(st, "upload_expiry_hours", c.storage.upload_expiry_hours, origin, "storage");
    read(st, "max_uploads_per_repository", c.storage.max_uploads_per_repository, origin, "storage");
    read(st, "max_uploads_per_user", c.storage.max_uploads_per_user, origin, "storage");
    read(st, "metadata_sync", c.storage.metadata_sync, origin, "storage");
    read(st, "upload_cache_mib", c.storage.upload_cache_mib, origin, "storage");
    read(st, "ready_min_free_bytes", c.storage.ready_min_free_bytes, origin, "storage");
    read(st, "min_free_bytes", c.storage.min_free_bytes, origin, "storage");
    const auto m = root["metrics"];
    checkKnownKeys(m, {"enabled", "listen", "require_permission"}, origin, "metrics");
    read(m, "enabled", c.metrics.enabled, origin, "metrics");
    read(m, "listen", c.metrics.listen, origin, "metrics");
    read(m, "require_permission", c.metrics.require_permission, origin, "metrics");
    if (!c.metrics.listen.empty()) parseListen(c.metrics.listen);
    const auto gc = root["gc"];
    checkKnownKeys(gc, {"interval_minutes", "grace_period_minutes", "upload_ttl_hours"}, origin, "gc");
    read(gc, "interval_minutes", c.gc.interval_minutes, origin, "gc");
    read(gc, "grace_period_minutes", c.gc.grace_period_minutes, origin, "gc");
    read(gc, "upload_ttl_hours", c.gc.upload_ttl_hours, origin, "gc");
    readSecurity(root["security"], c.security, origin);
    if (const auto repos = root["repositories"]) {
      if (!repos.IsSequence()) bad(origin, "repositories must be a list");
      for (std::size_t i = 0; i < repos.size(); ++i) {
        c.repositories.push_back(readRepository(repos[i], origin, "repositories[" + std::to_string(i) + "]"));
      }
    }
  }
  return c;
}

Config loadFromString(const std::string& text, const std::string& origin) {
  return loadDocument(text, origin, processEnvironment());
}

Config loadFromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return loadFromString(ss.str(), path);
}

Config loadDefault() { return loadFromString(std::string(embeddedDefaultYaml()), "embedded default config"); }

}  // namespace berth::config

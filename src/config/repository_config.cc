#include "config/repository_config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "berth/core/reference.h"

namespace berth::config {
namespace {

// The keys a remote repository takes besides key, type, description, port.
const std::set<std::string> kRemoteKeys{"url",     "username",        "password", "metadata_ttl_seconds",
                                        "offline", "timeout_seconds", "ca_file",  "foreign_layers",
                                        "max_blob_bytes", "cache_retention_hours"};
// The keys a local repository takes.
const std::set<std::string> kLocalKeys{"max_unique_tags", "protected_tags"};
// The keys a virtual repository takes.
const std::set<std::string> kVirtualKeys{"repositories", "default_deployment_repo",
                                         "resolve_tags_by_latest_timestamp"};

RepoType parseRepoType(const std::string& t, const std::string& origin, const std::string& where) {
  if (t == "local") return RepoType::Local;
  if (t == "remote") return RepoType::Remote;
  if (t == "virtual") return RepoType::Virtual;
  bad(origin, where + ".type must be local, remote or virtual (got '" + t + "')");
}

bool isHostChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; }

// Checks "host", "host:port", "[v6]" or "[v6]:port"; returns the problem or "".
std::string authorityProblem(const std::string& authority) {
  std::string host = authority, port;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string::npos) return "an IPv6 host needs its closing ']'";
    host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return "the host must be followed by ':<port>', '/' or nothing";
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return "the port after ':' is missing";
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
      return "the IPv6 host is malformed";
  } else {
    auto colon = authority.find(':');
    if (colon != std::string::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return "the port after ':' is missing";
    }
    if (host.empty()) return "the host is missing";
    for (char c : host)
      if (!isHostChar(c)) return "the host has a character a host name cannot have";
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return "the port is not a number";
    long p = std::strtol(port.c_str(), nullptr, 10);
    if (p < 1 || p > 65535) return "the port must be 1..65535";
  }
  return "";
}

// "http(s)://host[:port][/prefix]": the scheme lower-cased, trailing '/'
// dropped. The URL itself is never quoted in a message: a mistaken one may
// carry a password.
std::string normalizeUrl(const std::string& url, const std::string& origin, const std::string& key) {
  if (url.empty()) bad(origin, key + " must not be empty (omit it for Docker Hub)");
  for (char c : url)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      bad(origin, key + " must not contain spaces or control characters");
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") bad(origin, key + " must start with http:// or https://");
  std::string rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string::npos) bad(origin, key + " must not have a query or a fragment");
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string::npos)
    bad(origin, key + " must not carry credentials (user@host): set username and password instead");
  if (auto problem = authorityProblem(authority); !problem.empty()) bad(origin, key + ": " + problem);
  while (path.ends_with("/")) path.pop_back();
  return scheme + "://" + authority + path;
}

void checkCaFile(const std::string& path, const std::string& origin, const std::string& key) {
  if (path.empty()) return;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    bad(origin, key + " '" + path + "' is not a readable file" + (ec ? " (" + ec.message() + ")" : ""));
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(origin, key + " '" + path + "' cannot be read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    bad(origin, key + " '" + path + "' holds no PEM certificate");
}

void readPort(const YAML::Node& node, unsigned& out, const std::string& origin, const std::string& where) {
  long long port = 0;
  read(node, "port", port, origin, where);
  if (port < 0 || port > 65535)
    return report(origin, where + ".port must be 1..65535 (0 or absent: no listener of its own)");
  out = static_cast<unsigned>(port);
}

void readRemote(const YAML::Node& node, Remote& r, const std::string& origin, const std::string& where) {
  read(node, "url", r.url, origin, where);
  carryOn([&] { r.url = normalizeUrl(r.url, origin, where + ".url"); });
  read(node, "username", r.username, origin, where);
  read(node, "password", r.password, origin, where);  // ${NAME} references were expanded before parsing
  if (r.username.empty() != r.password.empty())
    report(origin, where + ": username and password go together (both set, or neither)");
  read(node, "metadata_ttl_seconds", r.metadata_ttl_seconds, origin, where);
  read(node, "offline", r.offline, origin, where);
  read(node, "cache_retention_hours", r.cache_retention_hours, origin, where);
  read(node, "timeout_seconds", r.timeout_seconds, origin, where);
  if (r.timeout_seconds == 0) report(origin, where + ".timeout_seconds must be at least 1");
  read(node, "max_blob_bytes", r.max_blob_bytes, origin, where);
  if (r.max_blob_bytes == 0) report(origin, where + ".max_blob_bytes must be at least 1");
  read(node, "ca_file", r.ca_file, origin, where);
  carryOn([&] { checkCaFile(r.ca_file, origin, where + ".ca_file"); });
  if (const auto fl = node["foreign_layers"]) {
    const std::string at = where + ".foreign_layers";
    checkKnownKeys(fl, {"enabled", "include"}, origin, at);
    read(fl, "enabled", r.foreign_layers.enabled, origin, at);
    read(fl, "include", r.foreign_layers.include, origin, at);
    for (std::size_t i = 0; i < r.foreign_layers.include.size(); ++i)
      if (r.foreign_layers.include[i].empty()) report(origin, at + ".include[" + std::to_string(i) + "] is empty");
  }
}

void readLocal(const YAML::Node& node, Local& l, const std::string& origin, const std::string& where) {
  read(node, "max_unique_tags", l.max_unique_tags, origin, where);
  read(node, "protected_tags", l.protected_tags, origin, where);
  for (std::size_t i = 0; i < l.protected_tags.size(); ++i)
    if (!isValidTag(l.protected_tags[i]))
      report(origin, where + ".protected_tags[" + std::to_string(i) + "] is not a valid tag");
}

}  // namespace

namespace {

Repository readEntry(const YAML::Node& node, const std::string& origin, const std::string& where) {
  std::set<std::string> known{"key", "type", "description", "port"};
  known.insert(kRemoteKeys.begin(), kRemoteKeys.end());
  known.insert(kVirtualKeys.begin(), kVirtualKeys.end());
  known.insert(kLocalKeys.begin(), kLocalKeys.end());
  checkKnownKeys(node, known, origin, where);
  Repository r;
  if (node) r.line = node.Mark().line + 1;
  read(node, "key", r.key, origin, where);
  std::string type = "local";
  read(node, "type", type, origin, where);
  r.type = parseRepoType(type, origin, where);
  read(node, "description", r.description, origin, where);
  readPort(node, r.port, origin, where);
  if (r.type == RepoType::Local) readLocal(node, r.local, origin, where);
  if (r.type == RepoType::Remote) readRemote(node, r.remote, origin, where);
  if (r.type == RepoType::Virtual) {
    read(node, "repositories", r.virt.repositories, origin, where);
    read(node, "default_deployment_repo", r.virt.default_deployment_repo, origin, where);
    read(node, "resolve_tags_by_latest_timestamp", r.virt.resolve_tags_by_latest_timestamp, origin, where);
  }
  auto refuseKeysOf = [&](const std::set<std::string>& keys, RepoType owner, const char* owner_name) {
    if (r.type == owner) return;
    for (const auto& k : keys)
      if (node && node.IsMap() && node[k])
        report(origin, where + "." + k + " applies only to a " + owner_name + " repository (type: " + owner_name +
                        "); '" + r.key + "' is " + type);
  };
  refuseKeysOf(kLocalKeys, RepoType::Local, "local");
  refuseKeysOf(kRemoteKeys, RepoType::Remote, "remote");
  refuseKeysOf(kVirtualKeys, RepoType::Virtual, "virtual");
  return r;
}

}  // namespace

Repository readRepository(const YAML::Node& node, const std::string& origin, const std::string& where) {
  Repository r;
  if (carryOn([&] { r = readEntry(node, origin, where); })) return r;
  // The entry's problem is kept; its key and type stand in for it, so that
  // the checks of the others do not also call it unknown.
  r = Repository{};
  if (node && node.IsMap()) {
    r.line = node.Mark().line + 1;
    if (node["key"] && node["key"].IsScalar()) r.key = node["key"].Scalar();
    const std::string type = node["type"] && node["type"].IsScalar() ? node["type"].Scalar() : "local";
    r.type = type == "remote" ? RepoType::Remote : type == "virtual" ? RepoType::Virtual : RepoType::Local;
  }
  return r;
}

namespace {

// "repositories[i] 'key'": where a virtual repository's problem is (the loader adds the line).
std::string placeOf(const std::vector<Repository>& repos, std::size_t i) {
  return "repositories[" + std::to_string(i) + "] '" + repos[i].key + "'";
}

// How deep virtual repositories may nest (a virtual member of a virtual
// member ...): deeper is a configuration mistake, and each level costs every
// read a lookup.
constexpr int kMaxVirtualDepth = 8;

using ByKey = std::map<std::string, const Repository*>;

// Members are known, listed once, never lead back to the repository itself
// and nest at most kMaxVirtualDepth deep; the deployment repository is a
// local repository among them.
void validateVirtual(const std::vector<Repository>& repos, const ByKey& by_key, std::size_t i,
                     const std::string& origin) {
  const auto& v = repos[i];
  const std::string at = placeOf(repos, i);
  std::set<std::string> seen;
  for (const auto& m : v.virt.repositories) {
    if (!by_key.count(m)) report(origin, at + ": member '" + m + "' is not a repository of this configuration");
    if (m == v.key) report(origin, at + ": a virtual repository cannot be its own member");
    if (!seen.insert(m).second) report(origin, at + ": member '" + m + "' is listed twice");
  }
  // Breadth first over members, remembering who reached whom, so that a way
  // back to v is reported as its chain.
  std::map<std::string, std::string> reached_from{{v.key, ""}};
  std::vector<std::string> level{v.key};
  auto chainTo = [&](std::string k) {
    std::string chain = v.key;
    std::vector<std::string> path;
    for (; k != v.key; k = reached_from.at(k)) path.push_back(k);
    for (auto it = path.rbegin(); it != path.rend(); ++it) chain += " -> " + *it;
    return chain;
  };
  for (int depth = 1; !level.empty(); ++depth) {
    std::vector<std::string> next;
    for (const auto& k : level) {
      const auto* r = by_key.at(k);
      if (r->type != RepoType::Virtual) continue;
      for (const auto& m : r->virt.repositories) {
        if (!by_key.count(m)) continue;  // reported where that repository is validated
        if (m == v.key) bad(origin, at + ": its members lead back to it (" + chainTo(k) + " -> " + v.key + ")");
        if (!reached_from.emplace(m, k).second) continue;
        if (depth > kMaxVirtualDepth)
          bad(origin, at + ": virtual repositories nest more than " + std::to_string(kMaxVirtualDepth) +
                          " deep (" + chainTo(m) + ")");
        next.push_back(m);
      }
    }
    level = std::move(next);
  }
  const auto& d = v.virt.default_deployment_repo;
  if (d.empty()) return;
  if (!by_key.count(d)) bad(origin, at + ": default_deployment_repo '" + d + "' is not a repository of this configuration");
  if (by_key.at(d)->type != RepoType::Local)
    bad(origin, at + ": default_deployment_repo '" + d + "' is not a local repository");
  if (!reached_from.count(d)) bad(origin, at + ": default_deployment_repo '" + d + "' is not one of its members");
}

}  // namespace

void validateRepositories(const Config& c, const std::string& origin) {
  int listen_port = -1;  // a bad server.listen is reported on its own
  try {
    listen_port = parseListen(c.server.listen).port;
  } catch (const std::runtime_error&) {
  }
  std::set<std::string> keys;
  std::map<unsigned, std::string> ports;  // port -> the repository that has it
  for (std::size_t i = 0; i < c.repositories.size(); ++i) {
    const auto& r = c.repositories[i];
    const std::string where = "repositories[" + std::to_string(i) + "].key '" + r.key + "'";
    if (auto p = repoKeyProblem(r.key); !p.empty()) report(origin, where + ": " + p);
    if (!keys.insert(r.key).second) report(origin, where + " is defined twice");
  }
  ByKey by_key;
  for (const auto& r : c.repositories) by_key.emplace(r.key, &r);
  for (std::size_t i = 0; i < c.repositories.size(); ++i) {
    const auto& r = c.repositories[i];
    if (r.type == RepoType::Virtual) carryOn([&] { validateVirtual(c.repositories, by_key, i, origin); });
    if (r.port == 0) continue;
    const std::string where = "repositories[" + std::to_string(i) + "].port " + std::to_string(r.port);
    if (static_cast<int>(r.port) == listen_port) report(origin, where + " of '" + r.key + "' is server.listen's port");
    if (auto [it, fresh] = ports.emplace(r.port, r.key); !fresh)
      report(origin, where + " of '" + r.key + "' is also the port of repository '" + it->second + "'");
  }
}

}  // namespace berth::config

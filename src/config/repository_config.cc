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
                                        "max_blob_bytes"};

RepoType parseRepoType(const std::string& t, const std::string& origin, const std::string& where) {
  if (t == "local") return RepoType::Local;
  if (t == "remote") return RepoType::Remote;
  if (t == "virtual") bad(origin, where + ".type '" + t + "' is not supported yet by this build");
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
    bad(origin, where + ".port must be 1..65535 (0 or absent: no listener of its own)");
  out = static_cast<unsigned>(port);
}

void readRemote(const YAML::Node& node, Remote& r, const std::string& origin, const std::string& where) {
  read(node, "url", r.url, origin, where);
  r.url = normalizeUrl(r.url, origin, where + ".url");
  read(node, "username", r.username, origin, where);
  read(node, "password", r.password, origin, where);
  r.username = expandEnvironment(r.username, origin, where + ".username");
  r.password = expandEnvironment(r.password, origin, where + ".password");
  if (r.username.empty() != r.password.empty())
    bad(origin, where + ": username and password go together (both set, or neither)");
  read(node, "metadata_ttl_seconds", r.metadata_ttl_seconds, origin, where);
  read(node, "offline", r.offline, origin, where);
  read(node, "timeout_seconds", r.timeout_seconds, origin, where);
  if (r.timeout_seconds == 0) bad(origin, where + ".timeout_seconds must be at least 1");
  read(node, "max_blob_bytes", r.max_blob_bytes, origin, where);
  if (r.max_blob_bytes == 0) bad(origin, where + ".max_blob_bytes must be at least 1");
  read(node, "ca_file", r.ca_file, origin, where);
  checkCaFile(r.ca_file, origin, where + ".ca_file");
  if (const auto fl = node["foreign_layers"]) {
    const std::string at = where + ".foreign_layers";
    checkKnownKeys(fl, {"enabled", "include"}, origin, at);
    read(fl, "enabled", r.foreign_layers.enabled, origin, at);
    read(fl, "include", r.foreign_layers.include, origin, at);
    for (std::size_t i = 0; i < r.foreign_layers.include.size(); ++i)
      if (r.foreign_layers.include[i].empty()) bad(origin, at + ".include[" + std::to_string(i) + "] is empty");
  }
}

}  // namespace

std::string expandEnvironment(const std::string& value, const std::string& origin, const std::string& key) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    auto start = value.find("${", pos);
    if (start == std::string::npos) break;
    out.append(value, pos, start - pos);
    auto end = value.find('}', start + 2);
    if (end == std::string::npos) bad(origin, key + " has a '${' without its closing '}'");
    std::string name = value.substr(start + 2, end - start - 2);
    bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) bad(origin, key + " has a malformed environment reference (${NAME}: letters, digits, '_')");
    const char* v = std::getenv(name.c_str());
    if (!v) bad(origin, key + " refers to the environment variable " + name + ", which is not set");
    out += v;
    pos = end + 1;
  }
  out.append(value, pos);
  return out;
}

Repository readRepository(const YAML::Node& node, const std::string& origin, const std::string& where) {
  std::set<std::string> known{"key", "type", "description", "port"};
  known.insert(kRemoteKeys.begin(), kRemoteKeys.end());
  checkKnownKeys(node, known, origin, where);
  Repository r;
  read(node, "key", r.key, origin, where);
  std::string type = "local";
  read(node, "type", type, origin, where);
  r.type = parseRepoType(type, origin, where);
  read(node, "description", r.description, origin, where);
  readPort(node, r.port, origin, where);
  if (r.type == RepoType::Remote) {
    readRemote(node, r.remote, origin, where);
  } else {
    for (const auto& k : kRemoteKeys)
      if (node && node.IsMap() && node[k])
        bad(origin, where + "." + k + " applies only to a remote repository (type: remote); '" + r.key + "' is " +
                        type);
  }
  return r;
}

void validateRepositories(const Config& c, const std::string& origin) {
  const uint16_t listen_port = parseListen(c.server.listen).port;
  std::set<std::string> keys;
  std::map<unsigned, std::string> ports;  // port -> the repository that has it
  for (std::size_t i = 0; i < c.repositories.size(); ++i) {
    const auto& r = c.repositories[i];
    if (auto p = repoKeyProblem(r.key); !p.empty()) bad(origin, "repository '" + r.key + "': " + p);
    if (!keys.insert(r.key).second) bad(origin, "repository key '" + r.key + "' is defined twice");
    if (r.port == 0) continue;
    const std::string where = "repositories[" + std::to_string(i) + "].port " + std::to_string(r.port);
    if (r.port == listen_port) bad(origin, where + " of '" + r.key + "' is server.listen's port");
    if (auto [it, fresh] = ports.emplace(r.port, r.key); !fresh)
      bad(origin, where + " of '" + r.key + "' is also the port of repository '" + it->second + "'");
  }
}

}  // namespace berth::config

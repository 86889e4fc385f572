#include "http/client_url.h"

#include <cctype>
#include <cstdlib>
#include <vector>

#include "http/client.h"

namespace berth::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

uint16_t defaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host and port (0 when absent).
bool splitHostPort(std::string_view text, std::string& host, uint32_t& port) {
  port = 0;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = lower(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      host = lower(text);  // a bare IPv6 address: no port can be told apart
      return !host.empty();
    }
    host = lower(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return false;
    for (char c : rest.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return false;
  }
  return !host.empty();
}

// RFC 3986 5.2.4, on a path without its query.
std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  bool trailing = false;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto slash = path.find('/', i);
    std::string_view seg = path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    trailing = false;
    if (seg == "..") {
      if (out.size() > 1) out.pop_back();
      trailing = true;
    } else if (seg == ".") {
      trailing = true;
    } else {
      out.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  std::string result;
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k > 0) result += '/';
    result += out[k];
  }
  if (trailing) result += '/';
  if (result.empty() || result.front() != '/') result.insert(result.begin(), '/');
  return result;
}

bool hasScheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (c == ':') return true;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  return false;
}

}  // namespace

std::string Url::authority() const {
  std::string out = bracketed(host);
  if (port != defaultPort(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string Url::hostPort() const { return bracketed(host) + ":" + std::to_string(port); }

std::string Url::origin() const { return scheme + "://" + hostPort(); }

std::string Url::str() const { return scheme + "://" + authority() + target; }

std::optional<Url> parseUrl(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  std::string_view rest = text.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  auto end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  uint32_t port = 0;
  if (!splitHostPort(authority, url.host, port)) return std::nullopt;
  url.port = port ? static_cast<uint16_t>(port) : defaultPort(url.scheme);
  url.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  return url;
}

std::optional<Url> parseProxyUrl(std::string_view text) {
  text = trim(text);
  if (text.find("://") == std::string_view::npos) return parseUrl("http://" + std::string(text));
  return parseUrl(text);
}

std::optional<Url> resolveLocation(const Url& base, std::string_view location) {
  location = trim(location);
  location = location.substr(0, location.find('#'));
  if (hasScheme(location)) return parseUrl(location);
  if (location.substr(0, 2) == "//") return parseUrl(base.scheme + ":" + std::string(location));
  for (char c : location)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  Url url = base;
  url.userinfo.clear();
  std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (location.empty()) return url;
  if (location.front() == '?') {
    url.target = std::string(base_path) + std::string(location);
    return url;
  }
  auto q = location.find('?');
  std::string_view path = location.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : location.substr(q);
  std::string merged;
  if (path.front() == '/') {
    merged = std::string(path);
  } else {
    merged = std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(path);
  }
  url.target = removeDotSegments(merged) + std::string(query);
  return url;
}

bool noProxyMatches(std::string_view no_proxy, std::string_view host, uint16_t port) {
  std::string h = lower(host);
  while (!no_proxy.empty()) {
    auto comma = no_proxy.find(',');
    std::string_view entry = trim(no_proxy.substr(0, comma));
    no_proxy = comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.substr(0, 2) == "*.") entry.remove_prefix(1);
    bool dotted = entry.front() == '.';
    if (dotted) entry.remove_prefix(1);
    std::string name;
    uint32_t entry_port = 0;
    if (!splitHostPort(entry, name, entry_port)) continue;
    if (entry_port != 0 && entry_port != port) continue;
    if (h == name) return true;
    if (h.size() > name.size() && h.compare(h.size() - name.size(), name.size(), name) == 0 &&
        h[h.size() - name.size() - 1] == '.')
      return true;
  }
  return false;
}

ProxyConfig ProxyConfig::fromEnvironment() {
  auto env = [](const char* upper, const char* lower_name) -> std::string {
    if (const char* v = std::getenv(upper); v && *v) return v;
    if (const char* v = std::getenv(lower_name); v && *v) return v;
    return {};
  };
  ProxyConfig c;
  c.https_proxy = env("HTTPS_PROXY", "https_proxy");
  c.http_proxy = env("HTTP_PROXY", "http_proxy");
  c.no_proxy = env("NO_PROXY", "no_proxy");
  return c;
}

}  // namespace berth::http

// URLs as the outbound client needs them: parsing an absolute http(s) URL,
// resolving a redirect's Location against the URL that sent it, and choosing
// a proxy (NO_PROXY matching). Pure functions: no I/O, unit-tested alone.
//
// Internal to the outbound client (client.h). Thread-safe: no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::http {

struct Url {
  std::string scheme;    // "http" or "https"
  std::string host;      // lower-case; an IPv6 address without brackets
  uint16_t port = 0;     // the default port of the scheme when none was given
  std::string target;    // path and query, "/" at least; no fragment
  std::string userinfo;  // "user:password" (still percent-encoded) or ""

  bool tls() const { return scheme == "https"; }
  // host[:port] as the Host header wants it: the port only when not the
  // scheme's default, an IPv6 address in brackets.
  std::string authority() const;
  // host:port always (error messages, CONNECT, pool keys).
  std::string hostPort() const;
  // scheme://host:port: redirects compare origins.
  std::string origin() const;
  // The absolute URL without user information.
  std::string str() const;
};

// An absolute http:// or https:// URL; nullopt for anything else, and for
// URLs with spaces or control characters (they would end up in a request line).
std::optional<Url> parseUrl(std::string_view text);

// A proxy setting: a URL, or host:port meaning http://host:port.
std::optional<Url> parseProxyUrl(std::string_view text);

// A Location header resolved against `base` (RFC 3986 section 5: absolute,
// scheme-relative, absolute-path and relative references; dot segments
// removed; the fragment dropped). nullopt when the result is not http(s).
std::optional<Url> resolveLocation(const Url& base, std::string_view location);

// Whether NO_PROXY (comma-separated) exempts `host` (lower-case) on `port`:
// "*" exempts everything; "example.com" and ".example.com" exempt that host
// and its subdomains; "host:port" only that port. Case-insensitive.
bool noProxyMatches(std::string_view no_proxy, std::string_view host, uint16_t port);

}  // namespace berth::http

// Transport-neutral request and response values. Nothing here includes
// Beast, so handlers and tests stay light to compile.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/core/error.h"

namespace berth::http {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as sent: path + "?" + query
  std::string path;    // without the query
  std::vector<std::pair<std::string, std::string>> query;    // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string remote;  // the peer, "ip:port" (a proxy's, behind one)
  // The real client's IP address (no port): the peer's, or the one a trusted
  // proxy reported in X-Forwarded-For (server.trusted_proxies). Throttling and
  // auth logs use this.
  std::string client;
  std::string forwarded_proto;  // "http"/"https" from a trusted proxy's X-Forwarded-Proto, else empty
  bool has_body = false;  // Content-Length > 0 or chunked
  bool secure = false;    // arrived over TLS
  // The key of the repository whose own listener (config `port:`) took the
  // request; empty on the main listener. /v2/<image>/... there addresses it.
  std::string port_repository;
  std::string request_id;

  // First header value with this lower-case name, or empty.
  std::string_view header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
  bool hasQuery(std::string_view key) const {
    for (const auto& [k, v] : query)
      if (k == key) return true;
    return false;
  }
  std::string queryValue(std::string_view key) const {
    for (const auto& [k, v] : query)
      if (k == key) return v;
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // close the connection after this response

  HttpResponse& set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Splits "a=1&b=x%2Fy" into decoded pairs; '+' is a space in forms.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view q);
std::string percentDecode(std::string_view s, bool plus_is_space = true);
std::string_view reasonPhrase(int status);
// A whole HTTP/1.1 response carrying the spec's JSON error body, ending the
// connection: the front end's own answers (limits, timeouts, bad framing).
// `extra_headers` are complete lines, each ending in CRLF.
std::string rawErrorResponse(int status, const Error& e, std::string_view extra_headers = {});

}  // namespace berth::http

// One upstream registry as a remote repository sees it: its URL, the name
// mapping (Docker Hub's `library/`), the token handshake, and what its
// answers mean for Berth's clients.
//
// Token handshake (Docker token spec): a request goes out with the token
// cached for its scope, if any; a 401 is answered by reading the
// WWW-Authenticate challenge, fetching a token from its realm (anonymously, or
// with the configured credentials as Basic auth), caching it per scope until
// shortly before it expires, and retrying once; requests refused at the same
// time share one token request per scope. A Basic challenge is answered with
// the credentials directly.
//
// A failure to connect (name resolution, refused, timed out, the TLS
// handshake: http::SendFailure::Connect) marks the upstream down for a short
// back-off: requests in that time fail at once, so a dead upstream does not
// cost every client a connect timeout. Anything that goes wrong on a
// connection that was made (a malformed, oversized or missing answer) and
// any error status fail that one request only: one path answering garbage
// must not take down every other image's pulls.
//
// Thread-safe. Credentials never appear in errors or logs.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/core/error.h"
#include "http/client.h"
#include "repo/remote/single_flight.h"

namespace berth::repo::remote {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A query parameter's value as sent upstream: everything but RFC 3986's
// unreserved characters percent-encoded.
std::string percentEncode(const std::string& s);

class Upstream {
 public:
  Upstream(const config::Remote& settings, std::shared_ptr<http::HttpClient> client);

  // "host[:port]" of the upstream, for messages.
  const std::string& host() const { return host_; }
  bool isDockerHub() const { return docker_hub_; }
  // The image name as the upstream knows it: Docker Hub's official images
  // live under library/.
  std::string upstreamName(const std::string& name) const;

  // `method` on <url>/v2/<upstream name>/<suffix> (suffix may carry a query),
  // with the token handshake. Any HTTP status is a response; errors are
  // transport failures (the back-off, for a failure to connect), as
  // UNAVAILABLE naming the upstream.
  Result<http::ClientResponsePtr> request(const std::string& method, const std::string& name,
                                          const std::string& suffix, const Headers& headers,
                                          http::Suspender* suspender);
  // A plain GET of an absolute URL with no credentials (a foreign layer).
  Result<http::ClientResponsePtr> fetchUrl(const std::string& url, http::Suspender* suspender);

  // The error a client gets for an upstream answer that is not a success:
  // 404 (and Docker Hub's 401 for images that do not exist) -> `unknown`;
  // 429 -> TOOMANYREQUESTS with the upstream's Retry-After; anything else ->
  // UNAVAILABLE. The message names the upstream and `what`.
  Error errorFor(const http::ClientResponse& res, ErrorCode unknown, const std::string& what) const;

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point good_until;
  };
  // sent_token: the Bearer token the request carried, if any.
  Result<http::ClientResponsePtr> send(const std::string& method, const std::string& url, const Headers& headers,
                                       const std::string& scope, http::Suspender* suspender,
                                       std::string* sent_token = nullptr);
  // Answers a 401 challenge: caches a token for `scope` (or notes Basic).
  Status authenticate(const http::ClientResponse& challenge, const std::string& scope, http::Suspender* suspender);
  std::string basicCredentials() const;
  Status checkBackoff() const;
  void markDown();

  config::Remote settings_;
  std::shared_ptr<http::HttpClient> client_;
  std::string base_;  // url without a trailing slash
  std::string host_;
  bool docker_hub_ = false;
  std::mutex mu_;
  std::map<std::string, Token> tokens_;  // by scope
  SingleFlight<bool> token_flights_;     // token requests in flight, by scope
  bool basic_ = false;                   // the upstream asked for Basic auth
  std::atomic<int64_t> down_until_ms_{0};
};

}  // namespace berth::repo::remote

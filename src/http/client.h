// The outbound HTTP/1.1 client (remote repositories talk to their upstream
// registries with it). Built on the front end's stack: Boost.Asio sockets,
// Beast's parser, asio::ssl for TLS; the header itself stays free of them.
//
// - Connections are kept alive and pooled per (scheme, host, port): a
//   response read to its end gives its connection back.
// - TLS verifies the certificate chain (system CA store plus
//   ClientOptions::ca_file) and the host name, and sends SNI.
// - Proxies: ProxyConfig (HTTPS_PROXY / HTTP_PROXY / NO_PROXY); HTTPS goes
//   through an HTTP CONNECT tunnel, plain HTTP through an absolute-URI request.
// - Timeouts, all ClientOptions::timeout: connecting (resolution, TCP, proxy
//   tunnel and TLS handshake together); sending the request and receiving the
//   whole response header (one deadline, however steadily a server trickles
//   it, as the front end's header_timeout_seconds); every wait for more body
//   bytes (a large body may take long, but must keep moving). A request may
//   also bound its whole response, body included (whole_response_timeout).
// - Redirects (301/302/303/307/308) are followed for GET and HEAD up to
//   ClientRequest::max_redirects; the Authorization header is dropped as soon
//   as a redirect leaves the origin (scheme, host, port) of the first URL.
// - Bodies stream: the response body is read piece by piece by the caller.
//
// Waiting: send() and ClientResponse::read() take the calling coroutine's
// Suspender and suspend it while they wait; with none they block the calling
// thread (which must not be one of the client's own).
//
// Errors (never with internals a client of Berth should not see): UNAVAILABLE
// for a refused, reset or timed-out connection, a failed TLS handshake or
// certificate check, a malformed response; the message names the host.
//
// Thread safety: HttpClient may be used from any thread at once. A
// ClientResponse belongs to the coroutine (or thread) that sent its request,
// and must be destroyed before the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/core/error.h"

namespace berth::http {

class Suspender;

struct ProxyConfig {
  std::string http_proxy;   // e.g. http://127.0.0.1:3128, for http:// URLs
  std::string https_proxy;  // for https:// URLs (CONNECT)
  std::string no_proxy;     // comma-separated hosts, .domain suffixes, "*" for all
  // From HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy, NO_PROXY/no_proxy.
  static ProxyConfig fromEnvironment();
};

struct ClientOptions {
  std::chrono::seconds timeout{60};
  std::string ca_file;  // PEM bundle trusted besides the system store; "" = none
  ProxyConfig proxy;
  unsigned max_idle_per_host = 16;   // pooled idle connections kept per origin
  std::chrono::seconds idle_keep{50};  // a pooled connection unused this long is closed
  unsigned threads = 4;                // run spawn()ed tasks
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: http(s)://host[:port]/path[?query]
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // small bodies only (a token request)
  unsigned max_redirects = 5;
  // When not 0: the whole response, header and body (and any redirects),
  // must arrive within this long after send() starts, for small answers (a
  // token) that a server trickling one byte per read timeout must not stretch
  // to hours. 0: the body is bounded only by the timeout of each read.
  std::chrono::milliseconds whole_response_timeout{0};
};

// Why send() failed, for callers that treat a host they cannot reach apart
// from one answer they cannot use (a remote repository's back-off follows
// only the first: one hostile path must not make a whole upstream "down").
enum class SendFailure {
  None,
  // No connection to the origin of the request's URL (its first hop): name
  // resolution, TCP connect (refused, unreachable, timed out), the proxy and
  // its tunnel, the TLS handshake or certificate check.
  Connect,
  // Anything else: what happened on a connection that was made (no answer,
  // a malformed or oversized header, a timeout waiting for it), a redirect
  // hop to another origin, an invalid URL, a client shutting down.
  Exchange,
};

class ClientResponse {
 public:
  virtual ~ClientResponse() = default;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  // Declared length; empty for a chunked or close-delimited body. For HEAD,
  // the length the server announced.
  std::optional<uint64_t> content_length;
  std::string url;  // the URL that answered (after redirects)

  // First value of a header, case-insensitive; "" when absent.
  std::string header(std::string_view name) const;
  // Up to `size` bytes of the body; 0 at its end. UNAVAILABLE when the
  // connection breaks, times out or ends before the announced length.
  virtual Result<std::size_t> read(char* data, std::size_t size) = 0;
  // The whole rest of the body; UNAVAILABLE ("response too large") past `limit`.
  Result<std::string> readAll(std::size_t limit);
};
using ClientResponsePtr = std::unique_ptr<ClientResponse>;

class HttpClient {
 public:
  // Throws std::runtime_error when ca_file cannot be read (startup).
  explicit HttpClient(ClientOptions options);
  ~HttpClient();  // closes pooled connections, joins its threads
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `req` and returns the response once its header has arrived. On an
  // error, `failure` (when given) says which kind it was.
  Result<ClientResponsePtr> send(const ClientRequest& req, Suspender* suspender, SendFailure* failure = nullptr);
  // Runs `task` in a coroutine of the client's own, detached from any
  // request: work that must outlive the request that started it. False when
  // the coroutine could not start (no stack could be mapped): `task` will
  // not run, and the caller must undo what it set up for it.
  [[nodiscard]] bool spawn(std::function<void(Suspender&)> task);
  // Runs `task` on the client's threads, beside its coroutines: CPU work a
  // spawn()ed task hands off (hashing what a fetch receives).
  void post(std::function<void()> task);
  // Fails every request and body read in progress at once, and every later
  // one: for an owner that is stopping, whose spawn()ed work must not wait
  // out a stalled upstream's timeout. Idempotent; the destructor does it too.
  void shutdown();

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http

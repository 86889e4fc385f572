// The HTTP server: Boost.Asio underneath, the synchronous Exchange on top.
//
// One event-loop thread accepts, tells TLS from plain HTTP on the same port,
// handshakes and reads request headers, each under its deadline; an idle or
// half-sent connection costs a few hundred bytes and no thread. A complete
// request runs its handler in a coroutine on a pool of `workers` threads:
// the handler blocks on disk and SQLite as it likes (that is what the pool is
// for), while waiting on the client suspends the coroutine instead of holding
// a thread. Why this shape: docs/design.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/body_budget.h"
#include "http/exchange.h"
#include "http/forwarded.h"
#include "http/tls_context.h"

namespace berth::http {

using RequestHandler = std::function<void(Exchange&)>;

struct ConnectionOptions {
  unsigned header_timeout_seconds = 30;  // the whole header, from its first byte
  unsigned idle_timeout_seconds = 120;   // between requests
  unsigned read_timeout_seconds = 60;    // the window of the minimum rate
  uint64_t min_body_bytes_per_second = 1024;
  std::size_t header_limit = 64 * 1024;
  std::shared_ptr<BodyBudget> body_budget;  // shared by all connections; null: unbounded
  TrustedProxies trusted_proxies;  // whose X-Forwarded-For/-Proto are believed
};

// Called once per completed exchange (access log, metrics).
struct ExchangeSummary {
  const HttpRequest* request;  // request_id is set, and sent back as X-Request-Id
  const ExchangeNotes* notes;
  int status;
  uint64_t bytes_in, bytes_out;
  double seconds;
};
using ExchangeObserver = std::function<void(const ExchangeSummary&)>;

// One more listener on the same host, same TLS setting, limits and workers,
// for one repository: its requests carry the key in
// HttpRequest::port_repository (config `port:`, a registry mirror).
struct RepositoryListener {
  std::string repository;
  uint16_t port = 0;  // 0: an ephemeral port
  // false: a port that cannot be opened is logged and left out instead of
  // failing listen() (a repository created through the API: the server must
  // come up for the API to change it again).
  bool required = true;
};

struct ServerOptions {
  std::shared_ptr<TlsContext> tls;   // null: plain HTTP only
  bool redirect_plain_http = false;  // with TLS: plain requests get 301 to https (else 400)
  std::string host = "0.0.0.0";
  uint16_t port = 5000;
  unsigned workers = 8;              // handler threads
  unsigned max_connections = 16384;  // all clients
  unsigned max_connections_per_client = 512;  // one address (a trusted proxy is exempt)
  ConnectionOptions connection;
  std::vector<RepositoryListener> repository_listeners;
};

// A bound listener: the main one has an empty repository.
struct BoundListener {
  std::string repository;
  std::string address;  // "host:port"
  uint16_t port = 0;
};

class Server {
 public:
  Server(ServerOptions options, RequestHandler handler, ExchangeObserver observer);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every listener; throws std::runtime_error on a
  // failure, naming the address and, for a repository's, the repository
  // (one not `required` is logged and left out instead).
  void listen();
  // The main listener's bound address "host:port" (after listen()).
  std::string boundAddress() const;
  uint16_t boundPort() const;
  // Every listener, the main one first (after listen()). Thread-safe.
  std::vector<BoundListener> boundListeners() const;
  // Thread-safe (a reload): repositories' listeners become `wanted`. A
  // repository that keeps its port keeps its listener; new ones are bound
  // first, all of them, so that a required port that cannot be had throws
  // (naming it) with nothing changed (one not required is logged and left out); then they accept (once serving) and the listeners
  // no longer wanted stop accepting. Connections already accepted on those
  // go on to their end.
  void setRepositoryListeners(const std::vector<RepositoryListener>& wanted);
  // Runs the event loop on the calling thread until stop() has finished.
  void serve();
  // Thread-safe. Stops accepting on every listener, closes idle connections at once, lets
  // requests in flight finish for up to `grace` seconds, then fails the
  // sockets of those left and waits 2 s more. Returns how many are still
  // running at the end: if not 0, the caller must exit without destroying the
  // server or what its handler uses (worker threads still run them).
  std::size_t stop(unsigned grace_seconds);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace berth::http

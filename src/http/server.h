// The HTTP server: a listening socket, one thread per connection (blocking
// I/O, bounded by max_connections) and a graceful stop. Why threads and not
// an event loop: registry traffic is few long transfers plus bursts of tiny
// requests; blocking code keeps streaming, fsync and sendfile simple and
// needs no hand-off to a separate blocking pool (docs/design.md).
#pragma once

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/connection.h"

namespace berth::http {

struct ServerOptions {
  std::shared_ptr<TlsContext> tls;   // null: plain HTTP only
  bool redirect_plain_http = false;  // with TLS: plain requests get 301 to https (else 400)
  std::string host = "0.0.0.0";
  uint16_t port = 5000;
  unsigned max_connections = 1024;
  ConnectionOptions connection;
};

class Server {
 public:
  Server(ServerOptions options, RequestHandler handler, ExchangeObserver observer);
  ~Server();

  // Binds and listens; throws std::runtime_error on failure (startup).
  void listen();
  // The bound address "host:port" (after listen()).
  std::string boundAddress() const;
  uint16_t boundPort() const { return bound_port_; }
  // Accepts until stop(); returns when the listener is closed.
  void serve();
  // Thread-safe. Stops accepting, ends idle connections, waits up to `grace`
  // seconds for in-flight ones, then fails the sockets of those left and
  // waits briefly. Returns the number still running at the end: if not 0,
  // the caller must exit without destroying the server or what its handler
  // uses (the threads still run).
  std::size_t stop(unsigned grace_seconds);

 private:
  struct Slot;
  void runConnection(std::shared_ptr<Slot> slot, int fd, std::string remote);
  // EMFILE/ENFILE and other accept failures: shed or back off, never spin.
  void acceptFailed(int err);
  template <class... Args>
  void logLimited(fmt::format_string<Args...> format, Args&&... args);
  TransportPtr openTransport(int fd, std::string remote, bool& plain_on_tls_port);

  ServerOptions options_;
  RequestHandler handler_;
  RequestHandler plain_on_tls_handler_;
  ExchangeObserver observer_;
  int listen_fd_ = -1;
  int reserve_fd_ = -1;  // a spare descriptor, freed to shed a connection when out of them
  std::chrono::steady_clock::time_point last_resource_log_{};
  uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable drained_;
  std::list<std::shared_ptr<Slot>> active_;
};

}  // namespace berth::http

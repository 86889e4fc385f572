// A small threaded HTTP/1.1 server for tests: the upstreams a daemon talks to
// (ScriptedUpstream, TokenIssuer). One thread accepts, one thread serves each
// connection (kept alive until the client or the handler closes it); the
// handler runs on that connection's thread, so handlers must be thread-safe.
//
// Request bodies are read whole into memory (Content-Length or chunked): the
// server is for answering, not for receiving large uploads. Responses are
// written by the handler through a ServerExchange, whole or piece by piece,
// which is what lets a handler misbehave (close mid-body, stall).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/support/http_client.h"

namespace berth::it {

struct ServerRequest {
  std::string method, target;  // target: path and query as sent
  std::string path, query;      // target split at '?', path not decoded
  Headers headers;
  std::string body;

  // Query parameters, percent-decoded: the first value ("" when absent), or all.
  std::string param(std::string_view name) const;
  std::vector<std::string> params(std::string_view name) const;
};

class HttpServer;

// One request being answered. Either reply() once, or writeHead() then any
// number of write()s (the handler is responsible for the framing it announced).
class ServerExchange {
 public:
  ServerExchange(HttpServer& server, int fd, const ServerRequest& request) : server_(server), fd_(fd), request_(request) {}
  const ServerRequest& request() const { return request_; }

  // A whole response with Content-Length; no body bytes for HEAD.
  void reply(int status, std::string_view body = {}, Headers headers = {});
  // The status line and these header fields exactly; false when the peer is gone.
  bool writeHead(int status, const Headers& headers);
  bool write(std::string_view bytes);
  // Closes the connection once the handler returns (no further requests on it).
  void closeConnection() { close_ = true; }
  // Closes the connection without an answer (or without the rest of one).
  void hangUp() { answered_ = close_ = true; }
  // Misbehaving on purpose: after `bytes` bytes of body (what write() sends
  // after the head), drop the rest and close the connection; or pause there.
  void cutBodyAfter(uint64_t bytes) { cut_after_ = bytes; }
  void stallBodyAfter(uint64_t bytes, std::chrono::milliseconds duration) {
    stall_after_ = bytes;
    stall_for_ = duration;
  }
  // Sleeps, waking early (returning false) when the server stops.
  bool stall(std::chrono::milliseconds duration);

  bool answered() const { return answered_; }
  bool closing() const { return close_; }

 private:
  HttpServer& server_;
  int fd_;
  const ServerRequest& request_;
  bool answered_ = false, close_ = false;
  uint64_t body_sent_ = 0;
  uint64_t cut_after_ = UINT64_MAX, stall_after_ = UINT64_MAX;
  std::chrono::milliseconds stall_for_{0};
};

using Handler = std::function<void(ServerExchange&)>;

// The reason phrase of a status code ("OK", "Not Found", ...).
std::string_view reasonPhrase(int status);

class HttpServer {
 public:
  // Listens on address:0 (any 127.0.0.0/8 address) and starts accepting.
  // With listening false the port is only bound: connections to it are
  // refused (a host that is down) until listen().
  explicit HttpServer(Handler handler, const std::string& address = "127.0.0.1", bool listening = true);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }

  // Starts listening and accepting (once; a server constructed listening is).
  void listen();
  // Stops accepting, shuts down open connections (waking stalled handlers)
  // and joins every thread. Idempotent.
  void stop();
  bool stopping() const { return stopping_; }
  // Connections accepted so far.
  int connections() const { return connections_; }

 private:
  friend class ServerExchange;
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void acceptLoop();
  void serve(int fd, Conn& conn);
  void reapFinished();

  Handler handler_;
  std::string host_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;  // guards conns_, open_fds_; wake_ is used with it
  std::list<Conn> conns_;
  std::set<int> open_fds_;
  std::condition_variable wake_;
};

}  // namespace berth::it

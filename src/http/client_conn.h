// The outbound client's connections: one upstream connection (plain, TLS,
// or TLS through a proxy's CONNECT tunnel), the I/O a coroutine does on it
// under a deadline, the pool of idle kept-alive ones, and connecting.
//
// Sockets belong to the client's reactor (an io_context on one thread); the
// coroutine that uses a connection runs on its own executor (a strand of the
// client's pool, or of the server's workers), and every completion is
// dispatched there. Deadline timers run on that same strand, so they never
// race the coroutine.
//
// Internal to the outbound client (client.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "berth/core/error.h"
#include "http/client_url.h"
#include "http/stream.h"
#include "http/suspender.h"

namespace berth::http {
class TlsContext;
}

namespace berth::http::outbound {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

class LiveConnections;

struct Connection {
  Connection(asio::io_context& reactor, LiveConnections& live);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Stream stream;
  beast::flat_buffer buffer;  // received and not parsed yet
  std::string key;            // the pool it goes back to
  Clock::time_point idle_since{};
  bool expired = false;  // a deadline passed: the socket is shut down
  LiveConnections& live;
};
using ConnectionPtr = std::unique_ptr<Connection>;

// Every open connection, so that the client's destructor can fail the
// pending operations of all of them at once. Thread-safe.
class LiveConnections {
 public:
  void add(Connection* c, int fd);
  void remove(Connection* c);
  void abortAll();  // shutdown(SHUT_RDWR) now and for every later add()

 private:
  std::mutex mu_;
  std::unordered_map<Connection*, int> fds_;
  bool aborted_ = false;
};

// Idle kept-alive connections per key, newest last. Thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(unsigned max_per_key, std::chrono::seconds keep) : max_per_key_(max_per_key), keep_(keep) {}
  // The most recently used idle connection that still looks open, or null.
  ConnectionPtr take(const std::string& key);
  void give(ConnectionPtr c);
  void sweep();  // drops connections idle longer than `keep`
  void close();  // drops them all; later give()s drop theirs

 private:
  unsigned max_per_key_;
  std::chrono::seconds keep_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<ConnectionPtr>> idle_;
  bool closed_ = false;
};

// Runs `on_fire` on the coroutine's strand at `at`, unless destroyed first.
class Alarm {
 public:
  Alarm(Suspender& s, Clock::time_point at, std::function<void()> on_fire);
  ~Alarm();
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Cancels what is pending on the connection and shuts its socket down, so
// that nothing started later waits either. Sets `expired`.
void expire(Connection& c);

// Reads what arrives into `dest` (a plain socket is tried without waiting
// first). ec: eof, a socket error, or timed_out once the deadline passed.
std::size_t readInto(Connection& c, Suspender& s, Clock::time_point deadline, asio::mutable_buffer dest,
                     error_code& ec);
// Appends what arrives to c.buffer (a plain socket is tried without waiting
// first). ec: eof, a socket error, or timed_out once the deadline passed.
std::size_t readMore(Connection& c, Suspender& s, Clock::time_point deadline, error_code& ec);
// Writes every byte; ec as for readMore.
void writeAll(Connection& c, Suspender& s, std::string_view data, Clock::time_point deadline, error_code& ec);

// Parses a response header into a Beast response parser, all of it by
// `deadline` (not each read: a header trickled a byte at a time ends there
// too). `received` tells whether any byte came (a pooled connection that the
// server closed sends none: the request may be sent again on a fresh one).
template <class Parser>
error_code readHeader(Connection& c, Parser& p, Suspender& s, Clock::time_point deadline, bool& received) {
  received = c.buffer.size() > 0;
  for (;;) {
    if (c.buffer.size() > 0) {
      error_code ec;
      std::size_t n = p.put(c.buffer.data(), ec);
      c.buffer.consume(n);
      if (p.is_header_done()) return {};
      if (ec && ec != bhttp::error::need_more) return ec;
    }
    // Bytes always waiting would never reach readMore()'s alarm.
    if (Clock::now() >= deadline) return asio::error::timed_out;
    error_code ec;
    if (readMore(c, s, deadline, ec) > 0) received = true;
    if (ec == asio::error::eof) return received ? bhttp::error::partial_message : bhttp::error::end_of_stream;
    if (ec) return ec;
  }
}

// Where a request goes: the target, and the proxy it goes through if any.
struct Route {
  Url target;
  std::optional<Url> proxy;

  bool tunnel() const { return proxy && target.tls(); }         // CONNECT, then TLS
  bool absoluteForm() const { return proxy && !target.tls(); }  // GET http://host/... to the proxy
  std::string key() const;
  // "upstream host:port" (and " via proxy host:port"): the start of every error.
  std::string describe() const;
  // "Basic ..." from the proxy URL's user information, or "".
  std::string proxyAuthorization() const;
};

struct ConnectEnv {
  asio::io_context& reactor;
  LiveConnections& live;
  TlsContext& tls;
  std::chrono::seconds timeout;
};

// A new connection to the route's first hop: resolution, TCP, the proxy's
// CONNECT and the TLS handshake, all within one `timeout`. UNAVAILABLE
// naming the upstream when any of them fails.
Result<ConnectionPtr> connect(const Route& route, Suspender& s, const ConnectEnv& env);

// A socket or TLS error in words for a message ("connection refused").
std::string describe(const error_code& ec);

}  // namespace berth::http::outbound

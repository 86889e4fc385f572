// Internal to src/http: the state every connection shares (Server::Impl) and
// one connection (Session). A session lives on the event loop while it waits
// for a request (TLS detection, handshake, idle, header) and in a coroutine
// on a worker while its request runs; at most one of the two touches it at a
// time, and it goes back to the loop when the response is done.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/coroutine_stacks.h"
#include "http/server.h"
#include "http/stream.h"

namespace berth::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using HeaderParser = bhttp::request_parser<bhttp::empty_body>;

class Session;
class Acceptor;

// Connections counted globally and per client address. Thread-safe.
class ConnectionLimits {
 public:
  ConnectionLimits(unsigned total, unsigned per_client) : max_total_(total), max_per_client_(per_client) {}
  enum class Verdict { Admitted, TooManyTotal, TooManyFromClient };
  Verdict admit(const std::string& client, bool exempt);
  void release(const std::string& client, bool exempt);

 private:
  unsigned max_total_, max_per_client_;
  mutable std::mutex mu_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, unsigned> per_client_;
};

struct Server::Impl {
  Impl(ServerOptions options, RequestHandler handler, ExchangeObserver observer);

  struct Listener {
    // Empty: the main listener. Shared with the sessions it accepted, which
    // may outlive it (a reload closes a repository's listener).
    std::shared_ptr<const std::string> repository;
    uint16_t port = 0;  // as configured (0: ephemeral)
    uint16_t bound_port = 0;
    std::shared_ptr<Acceptor> acceptor;  // bound; accepting once the server serves
    bool required = true;  // RepositoryListener::required
  };

  ServerOptions options;
  RequestHandler handler;
  RequestHandler plain_on_tls_handler;
  ExchangeObserver observer;
  asio::io_context loop{1};
  asio::thread_pool pool;
  CoroutineStacks stacks;
  ConnectionLimits limits;
  // The main listener first, then one per repository with a port (a reload
  // changes those: Server::setRepositoryListeners). Guarded by listeners_mu,
  // as is `accepting` (serve() has started the listeners' accept loops).
  std::mutex listeners_mu;
  std::vector<Listener> listeners;
  bool accepting = false;
  std::atomic<bool> stopping{false};
  std::atomic<bool> serving{false};

  // Every live session, for stop(); a session removes itself when destroyed.
  std::mutex mu;
  std::condition_variable drained;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  // At most one warning per second for a condition that may repeat quickly
  // (a crowd of slow clients); the next line says how many were left out.
  void warnLimited(const std::string& message);
  std::mutex log_mu;
  std::chrono::steady_clock::time_point last_warning{};
  unsigned suppressed_warnings = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `port_repository`: the listener's (empty: the main one).
  Session(Server::Impl& server, tcp::socket socket, std::string remote, std::string client, bool exempt,
          std::shared_ptr<const std::string> port_repository);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();        // loop thread
  void closeIfIdle();  // loop thread: server stopping
  void abort();        // any thread: fails the socket, busy or not

 private:
  enum class Phase { Opening, Idle, Header, Busy };

  // Unregisters (and releases the connection's limits) after every other
  // member is gone: declared first, destroyed last, so that the server never
  // sees zero sessions while one still uses its event loop.
  struct Registration {
    Registration(Server::Impl& s, Session* me, std::string c, bool ex);
    Server::Impl& server;
    Session* self;
    std::string client;
    bool exempt;
    ~Registration();
  };

  // Loop side (session.cc).
  void detectTls();
  void handshake();
  void awaitRequest();
  void readHeader();
  void dispatch();
  void deadline(std::chrono::steady_clock::time_point at);
  // The deadline of the wait for the next request, and of its header: for
  // a new connection both end header_timeout after it was accepted (TLS
  // detection and handshake included); later ones get the idle timeout,
  // then the header timeout from the first byte.
  std::chrono::steady_clock::time_point idleDeadline() const;
  std::chrono::steady_clock::time_point headerDeadline() const;
  // A request header the front end refuses before any handler sees it.
  std::optional<std::pair<int, const char*>> headerProblem() const;
  void disarm();
  void refuse(int status, const char* message);
  void close();  // loop thread
  void closeSocket();  // any thread
  // Worker side (exchange_impl.cc): runs one request in a coroutine.
  void serveRequest(asio::yield_context yield);

  Registration registration_;
  Server::Impl& server_;
  Stream stream_;
  std::string remote_, client_;
  std::shared_ptr<const std::string> port_repository_;
  asio::steady_timer timer_;  // the loop-side deadline
  unsigned deadline_generation_ = 0;  // a late timer handler from an older deadline does nothing
  bool timed_out_ = false;
  bool first_request_ = true;
  std::chrono::steady_clock::time_point accepted_at_ = std::chrono::steady_clock::now();
  beast::flat_buffer buffer_;
  std::optional<HeaderParser> parser_;
  std::atomic<Phase> phase_{Phase::Opening};
  bool plain_on_tls_ = false;
  std::mutex socket_mu_;  // close() against abort() from another thread
};

}  // namespace berth::http

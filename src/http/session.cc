// The loop side of a connection: TLS detection and handshake, the wait for
// a request, its header, each under a deadline. Runs on the event-loop
// thread only; a complete header hands the session to a worker coroutine
// (exchange_impl.cc), which hands it back when the response is done.
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <limits>

#include <spdlog/spdlog.h>

#include "http/front_end.h"
#include "observe/metrics.h"

namespace berth::http {

Session::Registration::Registration(Server::Impl& s, Session* me, std::string c, bool ex)
    : server(s), self(me), client(std::move(c)), exempt(ex) {
  observe::metrics().connectionOpened();
}

Session::Registration::~Registration() {
  observe::metrics().connectionClosed();
  server.limits.release(client, exempt);
  std::lock_guard lock(server.mu);
  server.sessions.erase(self);
  server.drained.notify_all();
}

Session::Session(Server::Impl& server, tcp::socket socket, std::string remote, std::string client, bool exempt,
                 std::shared_ptr<const std::string> port_repository)
    : registration_{server, this, client, exempt},
      server_(server),
      stream_(std::move(socket)),
      remote_(std::move(remote)),
      client_(std::move(client)),
      port_repository_(std::move(port_repository)),
      timer_(server.loop) {}

Session::~Session() = default;

void Session::start() {
  if (server_.options.tls)
    detectTls();
  else
    awaitRequest();
}

void Session::deadline(std::chrono::steady_clock::time_point at) {
  timed_out_ = false;
  unsigned generation = ++deadline_generation_;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
    if (ec || generation != self->deadline_generation_) return;
    self->timed_out_ = true;
    boost::system::error_code ignored;
    self->stream_.socket().cancel(ignored);  // the pending operation ends with operation_aborted
  });
}

std::chrono::steady_clock::time_point Session::idleDeadline() const {
  const auto& o = server_.options.connection;
  if (first_request_) return accepted_at_ + std::chrono::seconds(o.header_timeout_seconds);
  return std::chrono::steady_clock::now() + std::chrono::seconds(o.idle_timeout_seconds);
}

std::chrono::steady_clock::time_point Session::headerDeadline() const {
  const auto& o = server_.options.connection;
  if (first_request_) return accepted_at_ + std::chrono::seconds(o.header_timeout_seconds);
  return std::chrono::steady_clock::now() + std::chrono::seconds(o.header_timeout_seconds);
}

void Session::disarm() {
  ++deadline_generation_;
  timer_.cancel();
}

void Session::detectTls() {
  deadline(headerDeadline());
  stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->disarm();
    if (ec || self->server_.stopping) return self->close();
    // A TLS ClientHello starts with 0x16, which no HTTP request does.
    unsigned char first = 0;
    if (::recv(self->stream_.socket().native_handle(), &first, 1, MSG_PEEK) != 1) return self->close();
    if (first != 0x16) {
      self->plain_on_tls_ = true;
      return self->awaitRequest();
    }
    self->stream_.startTls(self->server_.options.tls->native());
    self->handshake();
  });
}

// The handshake's key exchange is CPU work: it runs in a coroutine on a
// worker, so that a flood of handshakes cannot delay the loop (and every
// other connection's headers). The loop leaves the session alone meanwhile.
void Session::handshake() {
  if (!server_.stacks.ensureOne()) return close();
  phase_ = Phase::Busy;
  auto strand = asio::any_io_executor(asio::make_strand(server_.pool));
  asio::spawn(
      strand, std::allocator_arg, server_.stacks.allocator(),
      [self = shared_from_this()](asio::yield_context yield) {
        // The timer's handler and this coroutine share the strand; `done`
        // keeps a handler that fired as the handshake ended from cancelling
        // what the loop does next on the socket.
        auto done = std::make_shared<bool>(false);
        asio::steady_timer timer(yield.get_executor());
        timer.expires_at(self->headerDeadline());
        timer.async_wait([self, done](boost::system::error_code ec) {
          if (ec || *done) return;
          boost::system::error_code ignored;
          self->stream_.socket().cancel(ignored);
        });
        boost::system::error_code ec;
        self->stream_.tls()->async_handshake(asio::ssl::stream_base::server, yield[ec]);
        *done = true;
        timer.cancel();
        if (ec) {
          spdlog::debug("TLS handshake with {} failed: {}", self->remote_, ec.message());
          return self->closeSocket();
        }
        asio::post(self->server_.loop, [self] { self->awaitRequest(); });
      },
      [](std::exception_ptr e) {
        if (e) spdlog::error("TLS handshake coroutine failed");
      });
}

void Session::awaitRequest() {
  phase_ = Phase::Idle;
  if (server_.stopping) return close();
  if (buffer_.size() > 0) return readHeader();  // the next request came with the last one
  deadline(idleDeadline());
  auto on_first_bytes = [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
    self->disarm();
    if (ec) return self->close();  // idle too long, closed by the peer, or the server stopping
    self->buffer_.commit(n);
    self->readHeader();
  };
  // An idle plain connection holds no buffer at all: it waits for
  // readability. TLS may hold decrypted bytes, so it reads a little.
  if (stream_.secure())
    stream_.async_read_some(buffer_.prepare(1024), on_first_bytes);
  else
    stream_.socket().async_wait(tcp::socket::wait_read,
                                [on_first_bytes](boost::system::error_code ec) { on_first_bytes(ec, 0); });
}

void Session::readHeader() {
  phase_ = Phase::Header;
  const auto& o = server_.options.connection;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(o.header_limit));
  // A number, not boost::none: see the Boost floor in docs/design.md.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  deadline(headerDeadline());
  bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->disarm();
    if (!ec) {
      if (auto problem = self->headerProblem()) return self->refuse(problem->first, problem->second);
      return self->dispatch();
    }
    if (ec == bhttp::error::header_limit) return self->refuse(431, "request header too large");
    if (self->timed_out_) {
      self->server_.warnLimited("closed the connection from " + self->remote_ + ": request header incomplete after " +
                                std::to_string(self->server_.options.connection.header_timeout_seconds) + " s");
      return self->refuse(408, "the request header did not arrive in time");
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || !self->parser_->got_some() ||
        ec == asio::error::operation_aborted)
      return self->close();
    self->refuse(400, "malformed HTTP request");
  });
}

std::optional<std::pair<int, const char*>> Session::headerProblem() const {
  // Many tiny fields fit in the size limit and cost far more once parsed:
  // each is a node, then a copy in the request, for the request's lifetime.
  constexpr std::size_t kMaxFields = 100;
  const auto& m = parser_->get();
  std::size_t fields = 0;
  for (auto it = m.begin(); it != m.end(); ++it)
    if (++fields > kMaxFields) return std::pair{431, "too many request header fields"};
  // RFC 9112 6.3: a Transfer-Encoding whose last coding is not chunked
  // leaves the body's end unknown; guessing would let bytes of a body run as
  // the next request.
  if (m.find(bhttp::field::transfer_encoding) != m.end() && !parser_->chunked())
    return std::pair{400, "unsupported Transfer-Encoding: only chunked is accepted"};
  if (m.version() >= 11 && m.find(bhttp::field::host) == m.end())
    return std::pair{400, "the request has no Host header"};
  return std::nullopt;
}

void Session::dispatch() {
  first_request_ = false;
  // The coroutine's stack is mapped here, on the loop: with no address space
  // left this client is told to retry and every other connection goes on.
  if (!server_.stacks.ensureOne()) {
    server_.warnLimited("cannot map a coroutine stack for a request from " + remote_ + "; answered 503");
    observe::metrics().connectionRefused(observe::RefusedReason::OutOfResources);
    return refuse(503, "the server is out of resources; retry later");
  }
  phase_ = Phase::Busy;
  auto strand = asio::make_strand(server_.pool);
  asio::spawn(
      asio::any_io_executor(strand), std::allocator_arg, server_.stacks.allocator(),
      [self = shared_from_this()](asio::yield_context yield) { self->serveRequest(yield); },
      [](std::exception_ptr e) {
        // serveRequest catches what handlers throw; this is the last guard.
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          spdlog::error("request coroutine failed: {}", x.what());
        } catch (...) {
          spdlog::error("request coroutine failed");
        }
      });
}

// Best effort: the answer is written (under a short deadline) and the
// connection closed, whatever the client does.
void Session::refuse(int status, const char* message) {
  ErrorCode code = status == 408   ? ErrorCode::RequestTimeout
                   : status == 503 ? ErrorCode::Unavailable
                                   : ErrorCode::BadRequest;
  auto text = std::make_shared<std::string>(rawErrorResponse(status, Error{code, message, {}}));
  deadline(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  asio::async_write(stream_, asio::buffer(*text), [self = shared_from_this(), text](boost::system::error_code, std::size_t) {
    self->disarm();
    self->close();
  });
}

void Session::close() {
  disarm();
  closeSocket();
}

void Session::closeSocket() {
  std::lock_guard lock(socket_mu_);
  boost::system::error_code ignored;
  stream_.socket().close(ignored);
}

void Session::closeIfIdle() {
  if (phase_ != Phase::Busy) close();
}

void Session::abort() {
  std::lock_guard lock(socket_mu_);
  auto& s = stream_.socket();
  if (s.is_open()) ::shutdown(s.native_handle(), SHUT_RDWR);  // pending reads and writes fail at once
}

}  // namespace berth::http

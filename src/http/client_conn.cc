// Connections, their pool and the deadline-bounded I/O of the outbound
// client (client_conn.h). Connecting is in client_connect.cc.
#include <sys/socket.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <vector>

#include "http/client_conn.h"
#include "core/base64.h"
#include "http/message.h"

namespace berth::http::outbound {

Connection::Connection(asio::io_context& reactor, LiveConnections& live_set)
    : stream(tcp::socket(reactor)), live(live_set) {}

Connection::~Connection() { live.remove(this); }

void LiveConnections::add(Connection* c, int fd) {
  std::lock_guard lock(mu_);
  fds_[c] = fd;
  if (aborted_) ::shutdown(fd, SHUT_RDWR);
}

void LiveConnections::remove(Connection* c) {
  std::lock_guard lock(mu_);
  fds_.erase(c);
}

void LiveConnections::abortAll() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  // The descriptors stay valid while listed: a connection leaves the list
  // before its socket closes.
  for (const auto& [c, fd] : fds_) ::shutdown(fd, SHUT_RDWR);
}

namespace {

// An idle connection the server closed is readable (EOF, or a TLS alert);
// one that is fine has nothing to say between responses.
bool looksOpen(Connection& c) {
  if (c.expired || c.buffer.size() > 0 || !c.stream.socket().is_open()) return false;
  char byte;
  ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

ConnectionPtr ConnectionPool::take(const std::string& key) {
  std::vector<ConnectionPtr> dead;  // closed outside the lock
  ConnectionPtr found;
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    auto oldest_kept = Clock::now() - keep_;
    while (!list.empty() && !found) {
      ConnectionPtr c = std::move(list.back());
      list.pop_back();
      if (c->idle_since >= oldest_kept && looksOpen(*c))
        found = std::move(c);
      else
        dead.push_back(std::move(c));
    }
    if (list.empty()) idle_.erase(it);
  }
  return found;
}

void ConnectionPool::give(ConnectionPtr c) {
  ConnectionPtr dropped;
  std::lock_guard lock(mu_);
  if (closed_ || max_per_key_ == 0) return;  // `c` closes here
  c->idle_since = Clock::now();
  c->buffer.shrink_to_fit();  // empty now: an idle connection holds no read buffer
  auto& list = idle_[c->key];
  if (list.size() >= max_per_key_) {
    dropped = std::move(list.front());
    list.pop_front();
  }
  list.push_back(std::move(c));
}

void ConnectionPool::sweep() {
  std::vector<ConnectionPtr> dead;
  std::lock_guard lock(mu_);
  auto oldest_kept = Clock::now() - keep_;
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    while (!list.empty() && list.front()->idle_since < oldest_kept) {
      dead.push_back(std::move(list.front()));
      list.pop_front();
    }
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

void ConnectionPool::close() {
  std::unordered_map<std::string, std::deque<ConnectionPtr>> dead;
  std::lock_guard lock(mu_);
  closed_ = true;
  dead.swap(idle_);
}

struct Alarm::State {
  explicit State(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::function<void()> on_fire;
  bool done = false;
};

Alarm::Alarm(Suspender& s, Clock::time_point at, std::function<void()> on_fire)
    : state_(std::make_shared<State>(s.yield().get_executor())) {
  state_->on_fire = std::move(on_fire);
  state_->timer.expires_at(at);
  // The handler runs on the coroutine's strand: either before the coroutine
  // resumes (the operation then ends as cancelled) or after it destroyed the
  // alarm (`done`), never alongside.
  state_->timer.async_wait([st = state_](error_code ec) {
    if (ec || st->done) return;
    st->on_fire();
  });
}

Alarm::~Alarm() {
  state_->done = true;
  state_->timer.cancel();
}

void expire(Connection& c) {
  c.expired = true;
  auto& sock = c.stream.socket();
  if (!sock.is_open()) return;
  error_code ignored;
  sock.cancel(ignored);
  ::shutdown(sock.native_handle(), SHUT_RDWR);
}

std::size_t readInto(Connection& c, Suspender& s, Clock::time_point deadline, asio::mutable_buffer dest,
                     error_code& ec) {
  ec = {};
  if (c.expired) {
    ec = asio::error::timed_out;
    return 0;
  }
  if (!c.stream.secure()) {
    // Data already there costs no trip through the reactor and back.
    ssize_t got;
    do got = ::recv(c.stream.socket().native_handle(), dest.data(), dest.size(), MSG_DONTWAIT);
    while (got < 0 && errno == EINTR);
    if (got > 0) return static_cast<std::size_t>(got);
    if (got == 0) {
      ec = asio::error::eof;
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  std::size_t n;
  {
    Alarm alarm(s, deadline, [&c] { expire(c); });
    n = c.stream.async_read_some(dest, s.yield()[ec]);
  }
  if (c.expired) {
    ec = asio::error::timed_out;
    return 0;
  }
  // A TLS peer that closes without close_notify: the end of the stream all the same.
  if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
  return n;
}

std::size_t readMore(Connection& c, Suspender& s, Clock::time_point deadline, error_code& ec) {
  constexpr std::size_t kReadSize = 64 * 1024;
  std::size_t n = readInto(c, s, deadline, c.buffer.prepare(kReadSize), ec);
  c.buffer.commit(n);
  return n;
}

void writeAll(Connection& c, Suspender& s, std::string_view data, Clock::time_point deadline, error_code& ec) {
  ec = {};
  if (c.expired) {
    ec = asio::error::timed_out;
    return;
  }
  if (!c.stream.secure()) {
    // A request is small: it almost always fits the socket buffer at once.
    while (!data.empty()) {
      ssize_t n = ::send(c.stream.socket().native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      ec = error_code(n < 0 ? errno : EPIPE, boost::system::system_category());
      return;
    }
    if (data.empty()) return;
  }
  {
    Alarm alarm(s, deadline, [&c] { expire(c); });
    asio::async_write(c.stream, asio::buffer(data.data(), data.size()), s.yield()[ec]);
  }
  if (c.expired) ec = asio::error::timed_out;
}

std::string Route::key() const {
  std::string k = target.origin();
  if (proxy) k += (tunnel() ? " tunnel " : " proxy ") + proxy->hostPort() + " " + proxy->userinfo;
  // Requests in absolute form share the proxy's connections whatever the target.
  if (absoluteForm()) k = "proxy " + proxy->hostPort() + " " + proxy->userinfo;
  return k;
}

std::string Route::describe() const {
  std::string d = "upstream " + target.hostPort();
  if (proxy) d += " via proxy " + proxy->hostPort();
  return d;
}

std::string Route::proxyAuthorization() const {
  if (!proxy || proxy->userinfo.empty()) return {};
  return "Basic " + base64Encode(percentDecode(proxy->userinfo, /*plus_is_space=*/false));
}

std::string describe(const error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) return "connection refused";
  if (ec == e::connection_reset) return "connection reset";
  if (ec == e::eof || ec == bhttp::error::end_of_stream) return "connection closed";
  if (ec == e::broken_pipe) return "connection closed while sending";
  if (ec == e::host_not_found || ec == e::host_not_found_try_again) return "host not found";
  if (ec == e::network_unreachable || ec == e::host_unreachable) return "unreachable";
  if (ec == e::timed_out) return "timed out";
  return ec.message();
}

}  // namespace berth::http::outbound

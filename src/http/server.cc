// The listener and the server's life: accept under the connection limits,
// run the loop, stop gracefully. Sessions do the rest (session.cc,
// exchange_impl.cc).
#include "http/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <future>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "berth/core/ip_address.h"
#include "http/front_end.h"
#include "observe/metrics.h"

namespace berth::http {

ConnectionLimits::Verdict ConnectionLimits::admit(const std::string& client, bool exempt) {
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) return Verdict::TooManyTotal;
  if (!exempt) {
    unsigned& mine = per_client_[client];
    if (mine >= max_per_client_) {
      if (mine == 0) per_client_.erase(client);
      return Verdict::TooManyFromClient;
    }
    ++mine;
  }
  ++total_;
  return Verdict::Admitted;
}

void ConnectionLimits::release(const std::string& client, bool exempt) {
  std::lock_guard lock(mu_);
  --total_;
  if (exempt) return;
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

namespace {
// Coroutine stacks: reserved address space, committed as touched (a request
// uses a few dozen KiB); the guard page turns an overflow into a crash.
constexpr std::size_t kStackBytes = 1024 * 1024;

HttpResponse plainOnTlsPort(const Exchange& ex, bool redirect) {
  HttpResponse res;
  res.close = true;
  std::string host(ex.request().header("host"));
  bool safe_host = !host.empty() && host.find_first_of(" \r\n\"<>") == std::string::npos;
  if (redirect && safe_host) {
    res.status = 301;
    res.set("Location", "https://" + host + ex.request().target);
  } else {
    res.status = 400;
    res.set("Content-Type", "application/json");
    res.body = errorBody(Error{ErrorCode::Unsupported, "this port speaks HTTPS; plain HTTP is refused", {}});
  }
  return res;
}

std::string endpointText(const tcp::endpoint& ep) {
  auto a = ep.address();
  std::string host = a.is_v6() && !a.to_v6().is_v4_mapped() ? "[" + a.to_string() + "]" : a.to_string();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) host = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return host + ":" + std::to_string(ep.port());
}

std::string clientAddress(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

int openReserveFd() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
}  // namespace

Server::Impl::Impl(ServerOptions o, RequestHandler h, ExchangeObserver obs)
    : options(std::move(o)),
      handler(std::move(h)),
      observer(std::move(obs)),
      pool(std::max(1u, options.workers)),
      stacks(kStackBytes, 4 * std::max(1u, options.workers)),
      limits(options.max_connections, options.max_connections_per_client) {
  listeners.push_back(Listener{std::make_shared<const std::string>(), options.port, 0, nullptr, true});
  for (const auto& r : options.repository_listeners)
    listeners.push_back(Listener{std::make_shared<const std::string>(r.repository), r.port, 0, nullptr, r.required});
  plain_on_tls_handler = [redirect = options.redirect_plain_http](Exchange& ex) {
    ex.respond(plainOnTlsPort(ex, redirect));
  };
}

void Server::Impl::warnLimited(const std::string& message) {
  std::lock_guard lock(log_mu);
  auto now = std::chrono::steady_clock::now();
  if (now - last_warning < std::chrono::seconds(1)) {
    ++suppressed_warnings;
    return;
  }
  last_warning = now;
  if (suppressed_warnings > 0)
    spdlog::warn("{} ({} similar events in the last second were not logged)", message, suppressed_warnings);
  else
    spdlog::warn("{}", message);
  suppressed_warnings = 0;
}

// The accept loop of one listener: one pending accept at a time, on the
// loop thread. A refusal is a non-blocking send and a close, so no client
// can stall it. Owns the listening socket; each pending operation holds the
// acceptor, so a listener a reload removes goes when its last one ends.
class Acceptor : public std::enable_shared_from_this<Acceptor> {
 public:
  Acceptor(Server::Impl& s, std::shared_ptr<const std::string> repository, tcp::acceptor acceptor)
      : s_(s), repository_(std::move(repository)), acceptor_(std::move(acceptor)), backoff_(s.loop),
        reserve_fd_(openReserveFd()) {}
  ~Acceptor() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }
  void next();   // loop thread
  void close();  // loop thread: the pending accept ends (operation_aborted)

 private:
  void accepted(tcp::socket socket);
  void failed(const boost::system::error_code& ec);
  void refuse(int fd, const char* message);

  Server::Impl& s_;
  std::shared_ptr<const std::string> repository_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  int reserve_fd_;  // a spare descriptor, freed to shed a connection when out of them
};

void Acceptor::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void Acceptor::next() {
  if (s_.stopping || !acceptor_.is_open()) return;
  acceptor_.async_accept(s_.loop, [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return self->failed(ec);
    self->accepted(std::move(socket));
    self->next();
  });
}

void Acceptor::refuse(int fd, const char* message) {
  static const std::string kExtra = "Retry-After: 1\r\n";
  std::string text = rawErrorResponse(503, Error{ErrorCode::Unavailable, message, {}}, kExtra);
  if (fd < 0) return;
  [[maybe_unused]] auto n = ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void Acceptor::accepted(tcp::socket socket) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  socket.set_option(tcp::no_delay(true), ec);
  std::string client = clientAddress(peer);
  auto ip = IpAddress::parse(client);
  bool exempt = ip && s_.options.connection.trusted_proxies.trusts(*ip);
  switch (s_.limits.admit(client, exempt)) {
    case ConnectionLimits::Verdict::Admitted:
      break;
    case ConnectionLimits::Verdict::TooManyTotal:
      observe::metrics().connectionRefused(observe::RefusedReason::TooManyTotal);
      refuse(socket.native_handle(), "too many connections; retry later");
      s_.warnLimited("refused a connection from " + endpointText(peer) + ": " +
                     std::to_string(s_.options.max_connections) + " connections open (server.max_connections)");
      return;
    case ConnectionLimits::Verdict::TooManyFromClient:
      observe::metrics().connectionRefused(observe::RefusedReason::TooManyFromClient);
      refuse(socket.native_handle(), "too many connections from your address; retry later");
      s_.warnLimited("refused a connection from " + endpointText(peer) + ": " +
                     std::to_string(s_.options.max_connections_per_client) +
                     " connections open from that address (server.max_connections_per_client)");
      return;
  }
  std::shared_ptr<Session> session;
  try {
    session = std::make_shared<Session>(s_, std::move(socket), endpointText(peer), client, exempt, repository_);
    std::lock_guard lock(s_.mu);
    s_.sessions.emplace(session.get(), session);
  } catch (const std::bad_alloc&) {
    // Out of memory: this client is told to retry, the others go on. A
    // session that was made releases the limits itself when it goes.
    if (!session) s_.limits.release(client, exempt);
    refuse(socket.is_open() ? socket.native_handle() : -1, "the server is out of resources; retry later");
    observe::metrics().connectionRefused(observe::RefusedReason::OutOfResources);
    s_.warnLimited("out of memory accepting a connection from " + endpointText(peer) + "; answered 503");
    return;
  }
  session->start();
}

void Acceptor::failed(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted || s_.stopping || !acceptor_.is_open()) return;
  int err = ec.value();
  if (reserve_fd_ < 0) reserve_fd_ = openReserveFd();
  if ((err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
    // Linux fails accept() for want of a descriptor before it looks at the
    // backlog, so this says nothing about a client waiting. Free the reserved
    // descriptor, take a waiting connection if there is one and refuse it,
    // reserve again, then wait until the listener is readable: a new
    // connection, not the next accept, ends the wait (no busy loop).
    ::close(reserve_fd_);
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      refuse(fd, "the server is out of resources; retry later");
      observe::metrics().connectionRefused(observe::RefusedReason::OutOfResources);
      ::close(fd);
    }
    reserve_fd_ = openReserveFd();
    s_.warnLimited(std::string("out of file descriptors (") + ec.message() +
                   "); refusing new connections until some close");
    acceptor_.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](boost::system::error_code wait_ec) {
      if (wait_ec) return self->failed(wait_ec);
      self->next();
    });
    return;
  }
  if (err == EINTR || err == EAGAIN || err == ECONNABORTED || err == EPROTO) return next();
  // Another failure: back off instead of spinning.
  s_.warnLimited("accept failed: " + ec.message() + "; backing off");
  backoff_.expires_after(std::chrono::milliseconds(100));
  backoff_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->next();
  });
}

Server::Server(ServerOptions options, RequestHandler handler, ExchangeObserver observer)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler), std::move(observer))) {}

namespace {
// A listener bound on the server's host, not yet accepting. Throws naming
// the address (and the repository).
std::shared_ptr<Acceptor> bindOrThrow(Server::Impl& s, const std::shared_ptr<const std::string>& repository,
                                      uint16_t port, uint16_t& bound_port) {
  const std::string where = s.options.host + ":" + std::to_string(port) +
                            (repository->empty() ? "" : " (the port of repository '" + *repository + "')");
  boost::system::error_code ec;
  tcp::resolver resolver(s.loop);
  auto found = resolver.resolve(s.options.host, std::to_string(port),
                                tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) throw std::runtime_error("cannot resolve listen address " + where + ": " + ec.message());
  tcp::endpoint ep = found.begin()->endpoint();
  tcp::acceptor acceptor(s.loop);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(4096, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  bound_port = acceptor.local_endpoint().port();
  return std::make_shared<Acceptor>(s, repository, std::move(acceptor));
}

// The same; for a listener not `required`, a failure is logged and gives null.
std::shared_ptr<Acceptor> bindListener(Server::Impl& s, const std::shared_ptr<const std::string>& repository,
                                       uint16_t port, uint16_t& bound_port, bool required) {
  try {
    return bindOrThrow(s, repository, port, bound_port);
  } catch (const std::runtime_error& e) {
    if (required) throw;
    spdlog::error("{}; the repository is served on the other listeners only", e.what());
    return nullptr;
  }
}
}  // namespace

void Server::listen() {
  auto& s = *impl_;
  std::lock_guard lock(s.listeners_mu);
  for (auto& l : s.listeners) l.acceptor = bindListener(s, l.repository, l.port, l.bound_port, l.required);
  // Before serving: nothing refers to the listeners yet.
  std::erase_if(s.listeners, [](const Impl::Listener& l) { return !l.acceptor; });
}

std::string Server::boundAddress() const { return boundListeners().front().address; }

uint16_t Server::boundPort() const { return boundListeners().front().port; }

std::vector<BoundListener> Server::boundListeners() const {
  const auto& host = impl_->options.host;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::vector<BoundListener> out;
  std::lock_guard lock(impl_->listeners_mu);
  for (const auto& l : impl_->listeners)
    out.push_back({*l.repository, h + ":" + std::to_string(l.bound_port), l.bound_port});
  return out;
}

void Server::setRepositoryListeners(const std::vector<RepositoryListener>& wanted) {
  using Listener = Impl::Listener;
  auto& s = *impl_;
  std::vector<Listener> current;
  {
    std::lock_guard lock(s.listeners_mu);
    current = s.listeners;
  }
  std::vector<Listener> next{current.front()}, opened;
  for (const auto& w : wanted) {
    auto kept = std::find_if(current.begin() + 1, current.end(),
                             [&](const Listener& l) { return *l.repository == w.repository && l.port == w.port; });
    if (kept != current.end()) {
      next.push_back(*kept);
      continue;
    }
    Listener l{std::make_shared<const std::string>(w.repository), w.port, 0, nullptr, w.required};
    // A throw closes those bound so far: nothing changed.
    l.acceptor = bindListener(s, l.repository, l.port, l.bound_port, w.required);
    if (!l.acceptor) continue;
    opened.push_back(l);
    next.push_back(std::move(l));
  }
  std::vector<std::shared_ptr<Acceptor>> closed;
  for (const auto& l : current)
    if (l.acceptor && std::none_of(next.begin(), next.end(), [&](const Listener& n) { return n.acceptor == l.acceptor; }))
      closed.push_back(l.acceptor);
  std::unique_lock lock(s.listeners_mu);
  s.listeners = std::move(next);
  for (auto& l : opened) {
    spdlog::info("listening on {} for repository '{}'", s.options.host + ":" + std::to_string(l.bound_port),
                 *l.repository);
    if (s.accepting) asio::post(s.loop, [a = l.acceptor] { a->next(); });
  }
  if (!s.accepting) {  // no loop yet: nothing else uses them
    for (auto& a : closed) a->close();
    return;
  }
  lock.unlock();
  // On the loop, whose objects they are; waited for, so that the port is
  // free when the reload answers.
  auto done = std::make_shared<std::promise<void>>();
  asio::post(s.loop, [closed, done] {
    for (auto& a : closed) a->close();
    done->set_value();
  });
  done->get_future().wait_for(std::chrono::seconds(5));
}

void Server::serve() {
  auto& s = *impl_;
  {
    std::lock_guard lock(s.listeners_mu);
    s.accepting = true;
    for (auto& l : s.listeners)
      if (l.acceptor) asio::post(s.loop, [a = l.acceptor] { a->next(); });
  }
  // Runs until stop() releases it: sessions come and go in between.
  auto guard = asio::make_work_guard(s.loop);
  // A stop() that came before serving began (SIGTERM right after the ready
  // file) has nothing to drain and must not leave the loop running for
  // ever. Both flags are sequentially consistent: serve() or stop() sees
  // the other's.
  s.serving = true;
  if (s.stopping) return;
  // No exception is meant to leave a handler; one that does (memory, say)
  // is logged and the loop goes on for the other connections.
  while (true) {
    try {
      s.loop.run();
      break;
    } catch (const std::exception& e) {
      spdlog::error("event loop: {}", e.what());
    }
  }
}

std::size_t Server::stop(unsigned grace_seconds) {
  auto& s = *impl_;
  s.stopping = true;
  // On the loop: no more accepting, idle connections closed at once. Busy
  // ones close after their response (stopping_ makes it Connection: close).
  auto close_listeners = [&s] {
    std::lock_guard lock(s.listeners_mu);
    for (auto& l : s.listeners)
      if (l.acceptor) l.acceptor->close();
  };
  if (!s.serving) {  // never served: no sessions, nothing to drain
    close_listeners();
    return 0;
  }
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(s.loop, [&s, closed, close_listeners] {
    close_listeners();
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(s.mu);
      for (auto& [raw, weak] : s.sessions)
        if (auto p = weak.lock()) live.push_back(std::move(p));
    }
    for (auto& p : live) p->closeIfIdle();
    closed->set_value();
  });
  closed->get_future().wait_for(std::chrono::seconds(5));
  std::unique_lock lock(s.mu);
  auto drained = [&s] { return s.sessions.empty(); };
  if (!s.drained.wait_for(lock, std::chrono::seconds(grace_seconds), drained)) {
    // Past the grace period: fail the sockets of those still running so that
    // their coroutines end, and give them a moment to leave.
    std::vector<std::shared_ptr<Session>> live;
    for (auto& [raw, weak] : s.sessions)
      if (auto p = weak.lock()) live.push_back(std::move(p));
    lock.unlock();
    for (auto& p : live) p->abort();
    live.clear();
    lock.lock();
    s.drained.wait_for(lock, std::chrono::seconds(2), drained);
  }
  std::size_t left = s.sessions.size();
  lock.unlock();
  if (left == 0) s.loop.stop();
  return left;
}

Server::~Server() {
  auto& s = *impl_;
  // Sessions use the loop, the pool and this object: never leave before they
  // are gone (the caller exits without destroying anything if stop()
  // reported some still running).
  if (!s.stopping) stop(0);
  s.loop.stop();
  s.pool.join();
}

}  // namespace berth::http

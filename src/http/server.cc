#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

namespace berth::http {

struct Server::Slot {
  std::unique_ptr<Connection> connection;
  std::list<std::shared_ptr<Slot>>::iterator self;
};

namespace {
std::string addressOf(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}
}  // namespace

Server::Server(ServerOptions options, RequestHandler handler, ExchangeObserver observer)
    : options_(std::move(options)), handler_(std::move(handler)), observer_(std::move(observer)) {
  // Plain HTTP on a TLS port: refuse, or send the client to https.
  plain_on_tls_handler_ = [redirect = options_.redirect_plain_http](Exchange& ex) {
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
      res.body = R"({"errors":[{"code":"UNSUPPORTED","message":"this port speaks HTTPS; plain HTTP is refused"}]})";
    }
    ex.respond(std::move(res));
  };
}

void Server::listen() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options_.port);
  if (int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("cannot resolve listen address " + options_.host + ": " + gai_strerror(rc));
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    std::string err = std::strerror(errno);
    ::freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot listen on " + options_.host + ":" + port + ": " + err);
  }
  ::freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_port_ = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                        : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  listen_fd_ = fd;
}

std::string Server::boundAddress() const {
  std::string host = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  return host + ":" + std::to_string(bound_port_);
}

namespace {
enum class Refusal { TooManyConnections, OutOfResources };

std::string busyResponse(std::string_view message) {
  std::string body = R"({"errors":[{"code":"UNAVAILABLE","message":")" + std::string(message) + "\"}]}";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
         "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Answers 503 and closes. The send is non-blocking, so that a client that
// does not read can never stall the accept loop.
void refuse(int fd, Refusal why) {
  static const std::string kTooMany = busyResponse("too many connections; retry later");
  static const std::string kNoResources = busyResponse("the server is out of resources; retry later");
  const std::string& out = why == Refusal::TooManyConnections ? kTooMany : kNoResources;
  [[maybe_unused]] auto n = ::send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
}

int openReserveFd() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
}  // namespace

void Server::serve() {
  reserve_fd_ = openReserveFd();
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    // Poll with a timeout so that stop() needs no signal to wake accept().
    if (::poll(&p, 1, 50) <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      acceptFailed(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::unique_lock lock(mu_);
    if (active_.size() >= options_.max_connections) {
      lock.unlock();
      refuse(fd, Refusal::TooManyConnections);
      continue;
    }
    auto slot = std::make_shared<Slot>();
    active_.push_front(slot);
    slot->self = active_.begin();
    lock.unlock();
    try {
      std::thread([this, slot, fd, remote = addressOf(ss)] { runConnection(slot, fd, remote); }).detach();
    } catch (const std::system_error& e) {
      // No thread to be had (memory, or the process's thread limit): this
      // client is told to retry, and the server goes on with those it has.
      lock.lock();
      active_.erase(slot->self);
      lock.unlock();
      refuse(fd, Refusal::OutOfResources);
      logLimited("cannot start a connection thread ({}); answered 503", e.what());
    }
  }
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
  reserve_fd_ = -1;
}

void Server::acceptFailed(int err) {
  if (err == EINTR || err == EAGAIN || err == ECONNABORTED || err == EPROTO) return;
  if ((err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
    // Out of descriptors: the pending connection would make poll() report
    // readiness for ever (a busy loop). Free the reserved descriptor, take
    // the connection and refuse it, then reserve again.
    ::close(reserve_fd_);
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) refuse(fd, Refusal::TooManyConnections);
    reserve_fd_ = openReserveFd();
    logLimited("out of file descriptors ({}); refusing new connections until some close", std::strerror(err));
    return;
  }
  // No reserve left, or another failure: back off instead of spinning.
  logLimited("accept failed: {}; backing off", std::strerror(err));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

template <class... Args>
void Server::logLimited(fmt::format_string<Args...> format, Args&&... args) {
  // At most one line per second: the condition may last and repeat quickly.
  auto now = std::chrono::steady_clock::now();
  if (now - last_resource_log_ < std::chrono::seconds(1)) return;
  last_resource_log_ = now;
  spdlog::warn(format, std::forward<Args>(args)...);
}

TransportPtr Server::openTransport(int fd, std::string remote, bool& plain_on_tls_port) {
  unsigned timeout = options_.connection.read_timeout_seconds;
  plain_on_tls_port = false;
  if (!options_.tls) return makePlainTransport(fd, std::move(remote), timeout);
  // The detection happens here, on the connection's own thread, so a silent
  // client never holds up the accept loop.
  auto transport = makePlainTransport(fd, remote, options_.connection.idle_timeout_seconds);
  if (!TlsContext::clientSpeaksTls(fd)) {
    plain_on_tls_port = true;
    return transport;
  }
  int tls_fd = ::dup(fd);  // the plain transport closes its own descriptor
  transport.reset();
  return options_.tls->accept(tls_fd, std::move(remote), timeout);
}

void Server::runConnection(std::shared_ptr<Slot> slot, int fd, std::string remote) {
  bool plain_on_tls_port = false;
  auto transport = openTransport(fd, std::move(remote), plain_on_tls_port);
  if (transport) {
    {
      std::lock_guard lock(mu_);
      slot->connection = std::make_unique<Connection>(std::move(transport), options_.connection,
                                                      plain_on_tls_port ? plain_on_tls_handler_ : handler_, observer_);
      if (stopping_) slot->connection->stop();
    }
    slot->connection->run();
  }
  std::lock_guard lock(mu_);
  active_.erase(slot->self);
  slot->connection.reset();  // closes the socket while the server still exists
  drained_.notify_all();
}

std::size_t Server::stop(unsigned grace_seconds) {
  stopping_ = true;
  std::unique_lock lock(mu_);
  for (auto& slot : active_)
    if (slot->connection) slot->connection->stop();
  if (drained_.wait_for(lock, std::chrono::seconds(grace_seconds), [&] { return active_.empty(); })) return 0;
  // Past the grace period: fail the sockets of those still running so their
  // threads return, and give them a moment to leave the server's objects.
  for (auto& slot : active_)
    if (slot->connection) slot->connection->abort();
  drained_.wait_for(lock, std::chrono::seconds(2), [&] { return active_.empty(); });
  return active_.size();
}

Server::~Server() {
  // Connection threads use this object: never leave before they are gone
  // (the caller exits without destroying anything if stop() reported some
  // still running).
  std::unique_lock lock(mu_);
  stopping_ = true;
  for (auto& slot : active_)
    if (slot->connection) slot->connection->abort();
  drained_.wait(lock, [&] { return active_.empty(); });
  lock.unlock();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

}  // namespace berth::http

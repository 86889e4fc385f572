#include "http/server.h"

#include <arpa/inet.h>
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

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
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

void Server::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    // Poll with a timeout so that stop() needs no signal to wake accept().
    if (::poll(&p, 1, 50) <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::unique_lock lock(mu_);
    if (active_.size() >= options_.max_connections) {
      lock.unlock();
      auto transport = makePlainTransport(fd, addressOf(ss), 5);
      static const std::string kBody = R"({"errors":[{"code":"UNAVAILABLE","message":"too many connections"}]})";
      static const std::string kBusy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                       "Connection: close\r\nContent-Length: " + std::to_string(kBody.size()) +
                                       "\r\n\r\n" + kBody;
      transport->writeAll(kBusy.data(), kBusy.size());
      continue;
    }
    auto slot = std::make_shared<Slot>();
    active_.push_front(slot);
    slot->self = active_.begin();
    lock.unlock();
    std::thread([this, slot, fd, remote = addressOf(ss)] { runConnection(slot, fd, remote); }).detach();
  }
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
  drained_.wait_for(lock, std::chrono::seconds(grace_seconds), [&] { return active_.empty(); });
  return active_.size();
}

}  // namespace berth::http

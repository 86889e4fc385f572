// Loopback servers for the outbound client's tests: plain sockets, one
// thread per connection, optionally TLS (OpenSSL on the blocking socket),
// and a CONNECT proxy. Blocking code on purpose: it is simple and it is not
// the code under test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

namespace berth::http::testing {

inline ClientOptions clientOptions(int timeout_seconds = 10) {
  ClientOptions o;
  o.timeout = std::chrono::seconds(timeout_seconds);
  o.threads = 2;
  return o;
}

inline ClientRequest getRequest(const std::string& url,
                                std::vector<std::pair<std::string, std::string>> headers = {}) {
  ClientRequest r;
  r.url = url;
  r.headers = std::move(headers);
  return r;
}


struct SeenRequest {
  std::string method, target, head, body;
  // First value of a header, case-insensitive; "" when absent.
  std::string header(const std::string& name) const {
    std::size_t at = head.find("\r\n");
    while (at != std::string::npos && at + 2 < head.size()) {
      std::size_t end = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos && colon == name.size() &&
          std::equal(name.begin(), name.end(), line.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      at = end;
    }
    return {};
  }
};

// One accepted connection, plain or TLS.
class TestConn {
 public:
  TestConn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~TestConn() {
    if (ssl_) SSL_free(ssl_);
    ::close(fd_);
  }
  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }

  // Some bytes; 0 at EOF or on error.
  std::size_t readSome(char* data, std::size_t size) {
    if (ssl_) {
      int n = SSL_read(ssl_, data, static_cast<int>(size));
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    ssize_t n = ::recv(fd_, data, size, 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool send(std::string_view data) {
    while (!data.empty()) {
      long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                    : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // One request (a Content-Length body only); false at EOF.
  bool readRequest(SeenRequest& out) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return false;
    out = SeenRequest{};
    out.head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    auto sp1 = out.head.find(' '), sp2 = out.head.find(' ', sp1 + 1);
    out.method = out.head.substr(0, sp1);
    out.target = out.head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t length = out.header("content-length").empty() ? 0 : std::stoul(out.header("content-length"));
    while (buffer_.size() < length)
      if (!fill()) return false;
    out.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return true;
  }
  // Whatever is buffered beyond the requests read so far.
  std::string& buffered() { return buffer_; }

 private:
  bool fill() {
    char tmp[16384];
    std::size_t n = readSome(tmp, sizeof tmp);
    if (n == 0) return false;
    buffer_.append(tmp, n);
    return true;
  }
  int fd_;
  SSL* ssl_;
  std::string buffer_;
};

// Listens on `address`:0; runs `handler` on a thread per connection.
class TestServer {
 public:
  using Handler = std::function<void(TestConn&, int index)>;
  explicit TestServer(Handler handler, const char* address = "127.0.0.1", SSL_CTX* tls = nullptr)
      : handler_(std::move(handler)), address_(address), tls_(tls) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &sa.sin_addr);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listener_, 128) != 0)
      throw std::runtime_error("cannot listen on " + address_);
    socklen_t len = sizeof sa;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return port_; }
  std::string hostPort() const { return address_ + ":" + std::to_string(port_); }
  std::string url(const std::string& path = "/") const {
    return std::string(tls_ ? "https://" : "http://") + hostPort() + path;
  }
  int connections() const { return accepted_; }
  bool stopping() const { return stopping_; }

 private:
  void acceptLoop() {
    for (;;) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0 || stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      int index = accepted_++;
      std::lock_guard lock(mu_);
      open_.push_back(fd);
      threads_.emplace_back([this, fd, index] { serve(fd, index); });
    }
  }
  void serve(int fd, int index) {
    SSL* ssl = nullptr;
    if (tls_) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        handshake_failures_++;
        forget(fd);
        SSL_free(ssl);
        ::close(fd);
        return;
      }
    }
    {
      TestConn conn(fd, ssl);
      handler_(conn, index);
      forget(fd);
    }
  }
  void forget(int fd) {
    std::lock_guard lock(mu_);
    std::erase(open_, fd);
  }

  Handler handler_;
  std::string address_;
  SSL_CTX* tls_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;

 public:
  std::atomic<int> handshake_failures_{0};
};

// Waits until the peer closes (the client gave up, or the server stops).
inline void waitForClose(TestConn& c) {
  char b[256];
  while (c.readSome(b, sizeof b) > 0) {
  }
}

inline std::string okResponse(const std::string& body, const std::string& extra = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// A server certificate for 127.0.0.1 and localhost, self-signed (it is its
// own CA), made with the openssl CLI into `dir`: cert.pem and key.pem.
inline void makeCertificate(const std::string& dir) {
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                    "-subj /CN=berth-test-ca -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
                    dir + "/key.pem' -out '" + dir + "/cert.pem' >'" + dir + "/openssl.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed (see " + dir + "/openssl.log)");
}

inline SSL_CTX* serverContext(const std::string& dir) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx, (dir + "/cert.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, (dir + "/key.pem").c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("cannot load the test certificate");
  return ctx;
}

// Copies bytes both ways until either side closes.
inline void pump(int a, int b) {
  char buf[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, 30000) <= 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      if (::send(fds[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  }
}

// An HTTP proxy that only tunnels (CONNECT) to loopback; records the targets.
class ConnectProxy {
 public:
  ConnectProxy()
      : server_([this](TestConn& c, int) { serve(c); }) {}
  std::string url() const { return "http://" + server_.hostPort(); }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

 private:
  void serve(TestConn& c) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    {
      std::lock_guard lock(mu_);
      targets_.push_back(req.method + " " + req.target);
    }
    auto colon = req.target.rfind(':');
    if (req.method != "CONNECT" || colon == std::string::npos) {
      c.send("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    std::string host = req.target.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(req.target.substr(colon + 1))));
    if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
      c.send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    int up = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(up, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(up);
      c.send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    c.send("HTTP/1.1 200 Connection established\r\n\r\n");
    pump(c.fd(), up);
    ::close(up);
  }

  std::mutex mu_;
  std::vector<std::string> targets_;
  TestServer server_;  // last: its threads use the members above
};

}  // namespace berth::http::testing

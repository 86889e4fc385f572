#include "integration/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace berth::it {
namespace {

constexpr std::size_t kIoChunk = 1 << 20;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

[[noreturn]] void ioFailure(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string hex(std::size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

// Binds fd to a local address, port left to connect() so that thousands of
// sockets from one address can share ephemeral ports.
void bindTo(int fd, sa_family_t family, const std::string& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int ok = 0;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    ok = ::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr);
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    ok = ::inet_pton(AF_INET, address.c_str(), &in->sin_addr);
    len = sizeof *in;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (ok != 1 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    ioFailure("bind to " + address);
  }
}

}  // namespace

// ---- Headers, Response ----

Headers::Headers(std::initializer_list<std::pair<std::string, std::string>> items) : items_(items) {}

void Headers::add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
  std::erase_if(items_, [&](const auto& kv) { return iequals(kv.first, name); });
  add(std::move(name), std::move(value));
}

bool Headers::has(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return true;
  return false;
}

std::string Headers::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return v;
  return {};
}

nlohmann::json Response::json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string Response::errorCode() const {
  auto j = json();
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) return {};
  const auto& e = j["errors"][0];
  return e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : std::string();
}

std::string Response::describe() const {
  std::string out = std::to_string(status);
  for (const auto& [k, v] : headers.items()) out += "\n  " + k + ": " + v;
  out += "\n  " + body.substr(0, 1024);
  return out;
}

std::pair<std::string, uint16_t> splitHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("not host:port: '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(std::stoul(address.substr(colon + 1)))};
}

// ---- Socket ----

Socket::Socket(const std::string& host, uint16_t port, int timeout_seconds, const SocketOptions& options) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) throw std::runtime_error("bad host " + host);
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) throw std::runtime_error("bad host " + host);
    len = sizeof *in;
  }
  fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) ioFailure("socket");
  timeval tv{timeout_seconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options.receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer, sizeof options.receive_buffer);
  if (!options.bind_address.empty()) bindTo(fd_, ss.ss_family, options.bind_address);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd_);
    errno = err;
    ioFailure("connect to " + host + ":" + std::to_string(port));
  }
  if (!options.tls_ca_file.empty()) {
    try {
      startTls(host, options);
    } catch (...) {
      endTls();
      ::close(fd_);
      throw;
    }
  }
}

Socket::~Socket() {
  endTls();
  if (fd_ >= 0) ::close(fd_);
}

bool Socket::writeAll(std::string_view data) {
  if (tls_) return tlsWrite(data);
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    if (n < 0) ioFailure("send");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::size_t Socket::readSome(char* buf, std::size_t size) {
  if (tls_) return tlsRead(buf, size);
  while (true) {
    ssize_t n = ::recv(fd_, buf, size, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) throw std::runtime_error("recv: timed out waiting for the server");
    ioFailure("recv");
  }
}

bool Socket::idleConnectionBroken() const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

// ---- HttpClient ----

HttpClient::HttpClient(std::string host, uint16_t port, bool keep_alive, SocketOptions options)
    : host_(std::move(host)), port_(port), keep_alive_(keep_alive), options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

void HttpClient::retarget(std::string host, uint16_t port) {
  close();
  host_ = std::move(host);
  port_ = port;
}

void HttpClient::close() {
  socket_.reset();
  buf_.clear();
  pos_ = 0;
}

Response HttpClient::send(const Request& req, const BodySink& sink) {
  if (socket_ && socket_->idleConnectionBroken()) close();
  if (!socket_) socket_ = std::make_unique<Socket>(host_, port_, 60, options_);
  try {
    writeRequest(req);
    Response res = readResponse(req.method, sink);
    if (!keep_alive_ || iequals(res.header("Connection"), "close")) close();
    return res;
  } catch (...) {
    close();
    throw;
  }
}

void HttpClient::writeRequest(const Request& req) {
  std::string host = host_header_.empty() ? host_ + ":" + std::to_string(port_) : host_header_;
  std::string head = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const auto& [k, v] : req.headers.items()) head += k + ": " + v + "\r\n";
  for (const auto& [k, v] : defaults_.items())
    if (!req.headers.has(k)) head += k + ": " + v + "\r\n";
  if (!keep_alive_) head += "Connection: close\r\n";
  const bool explicit_framing = req.headers.has("Content-Length") || req.headers.has("Transfer-Encoding");
  const bool chunked = !explicit_framing && (req.chunked || (req.source && !req.content_length));
  const bool needs_length = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (!explicit_framing) {
    if (chunked)
      head += "Transfer-Encoding: chunked\r\n";
    else if (req.source)
      head += "Content-Length: " + std::to_string(*req.content_length) + "\r\n";
    else if (!req.body.empty() || needs_length)
      head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";

  // A server may answer before it has read the body (an error); stop writing then.
  auto piece = [&](std::string_view data) {
    if (!chunked) return socket_->writeAll(data);
    if (data.empty()) return true;
    return socket_->writeAll(hex(data.size()) + "\r\n") && socket_->writeAll(data) && socket_->writeAll("\r\n");
  };
  if (!req.source) {
    if (!chunked && req.body.size() <= kIoChunk) {
      socket_->writeAll(head + req.body);
      return;
    }
    if (socket_->writeAll(head) && piece(req.body) && chunked) socket_->writeAll("0\r\n\r\n");
    return;
  }
  if (!socket_->writeAll(head)) return;
  std::vector<char> buf(kIoChunk);
  while (std::size_t n = req.source(buf.data(), buf.size()))
    if (!piece(std::string_view(buf.data(), n))) return;
  if (chunked) socket_->writeAll("0\r\n\r\n");
}

std::string HttpClient::readLine() {
  while (true) {
    auto eol = buf_.find("\r\n", pos_);
    if (eol != std::string::npos) {
      std::string line = buf_.substr(pos_, eol - pos_);
      pos_ = eol + 2;
      return line;
    }
    if (buf_.size() - pos_ > 64 * 1024) throw std::runtime_error("response header line too long");
    char tmp[16 * 1024];
    std::size_t n = socket_->readSome(tmp, sizeof tmp);
    if (n == 0) throw std::runtime_error("connection closed before a complete response header");
    buf_.erase(0, pos_);
    pos_ = 0;
    buf_.append(tmp, n);
  }
}

Response HttpClient::readResponse(const std::string& method, const BodySink& sink) {
  Response res;
  do {  // skip interim 1xx responses
    std::string status_line = readLine();
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
      throw std::runtime_error("malformed status line: '" + status_line + "'");
    res = Response{};
    res.status = std::stoi(status_line.substr(9, 3));
    for (std::string line = readLine(); !line.empty(); line = readLine()) {
      auto colon = line.find(':');
      if (colon == std::string::npos) throw std::runtime_error("malformed header line: '" + line + "'");
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      res.headers.add(line.substr(0, colon), value);
    }
  } while (res.status >= 100 && res.status < 200);

  if (method == "HEAD" || res.status == 204 || res.status == 304) return res;
  if (iequals(res.header("Transfer-Encoding"), "chunked")) {
    readChunkedBody(res, sink);
  } else if (res.headers.has("Content-Length")) {
    readBody(std::stoull(res.header("Content-Length")), res, sink);
  } else {
    readBody(UINT64_MAX, res, sink);  // until the server closes
    close();
  }
  return res;
}

void HttpClient::readBody(uint64_t length, Response& res, const BodySink& sink) {
  auto deliver = [&](const char* data, std::size_t n) {
    if (sink) sink(data, n);
    else res.body.append(data, n);
  };
  std::size_t buffered = static_cast<std::size_t>(std::min<uint64_t>(length, buf_.size() - pos_));
  deliver(buf_.data() + pos_, buffered);
  pos_ += buffered;
  length -= buffered;
  std::vector<char> chunk(kIoChunk);
  while (length > 0) {
    std::size_t n = socket_->readSome(chunk.data(), static_cast<std::size_t>(std::min<uint64_t>(length, chunk.size())));
    if (n == 0) {
      if (length == UINT64_MAX) break;  // read-until-close body
      throw std::runtime_error("connection closed in the middle of a response body");
    }
    deliver(chunk.data(), n);
    if (length != UINT64_MAX) length -= n;
  }
}

void HttpClient::readChunkedBody(Response& res, const BodySink& sink) {
  while (true) {
    std::string size_line = readLine();
    uint64_t size = std::stoull(size_line, nullptr, 16);
    if (size == 0) break;
    readBody(size, res, sink);
    readLine();
  }
  while (!readLine().empty()) {  // trailers
  }
}

namespace {
Request simpleRequest(std::string method, const std::string& target, Headers headers, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.target = target;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}
}  // namespace

Response HttpClient::get(const std::string& target, Headers headers) {
  return send(simpleRequest("GET", target, std::move(headers)));
}
Response HttpClient::head(const std::string& target, Headers headers) {
  return send(simpleRequest("HEAD", target, std::move(headers)));
}
Response HttpClient::del(const std::string& target, Headers headers) {
  return send(simpleRequest("DELETE", target, std::move(headers)));
}
Response HttpClient::post(const std::string& target, std::string body, Headers headers) {
  return send(simpleRequest("POST", target, std::move(headers), std::move(body)));
}
Response HttpClient::put(const std::string& target, std::string body, Headers headers) {
  return send(simpleRequest("PUT", target, std::move(headers), std::move(body)));
}
Response HttpClient::patch(const std::string& target, std::string body, Headers headers) {
  return send(simpleRequest("PATCH", target, std::move(headers), std::move(body)));
}

std::string readUntil(Socket& s, const std::string& until) {
  std::string got;
  char buf[4096];
  while (got.find(until) == std::string::npos)
    if (std::size_t n = s.readSome(buf, sizeof buf)) got.append(buf, n);
    else break;
  return got;
}

}  // namespace berth::it

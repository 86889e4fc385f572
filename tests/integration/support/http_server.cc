#include "integration/support/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace berth::it {
namespace {

constexpr std::size_t kMaxHead = 64 * 1024;

std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Appends what one recv() brings to buf; false when the peer closed or the read failed.
bool readMore(int fd, std::string& buf) {
  char tmp[16 * 1024];
  ssize_t n;
  do n = ::recv(fd, tmp, sizeof tmp, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<std::size_t>(n));
  return true;
}

// Parses the head (through the blank line) into req; false when malformed.
bool parseHead(const std::string& head, ServerRequest& req) {
  auto eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  auto sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp1 == sp2) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  for (std::size_t pos = eol + 2; pos < head.size();) {
    auto end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string field = head.substr(pos, end - pos);
    auto colon = field.find(':');
    if (colon == std::string::npos) return false;
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    req.headers.add(field.substr(0, colon), value);
    pos = end + 2;
  }
  return true;
}

// Reads a chunked body starting at buf[pos]; false on a broken stream.
bool readChunked(int fd, std::string& buf, std::size_t& pos, std::string& body) {
  while (true) {
    std::size_t eol;
    while ((eol = buf.find("\r\n", pos)) == std::string::npos)
      if (!readMore(fd, buf)) return false;
    std::size_t size = std::stoul(buf.substr(pos, eol - pos), nullptr, 16);
    pos = eol + 2;
    while (buf.size() < pos + size + 2)
      if (!readMore(fd, buf)) return false;
    body.append(buf, pos, size);
    pos += size + 2;
    if (size == 0) return true;  // no trailers from our clients
  }
}

}  // namespace

std::string ServerRequest::param(std::string_view name) const {
  auto all = params(name);
  return all.empty() ? std::string() : all.front();
}

std::vector<std::string> ServerRequest::params(std::string_view name) const {
  std::vector<std::string> out;
  std::string_view q = query;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    auto eq = item.find('=');
    if (percentDecode(item.substr(0, eq)) == name)
      out.push_back(eq == std::string_view::npos ? "" : percentDecode(item.substr(eq + 1)));
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
  }
  return out;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// ---- ServerExchange ----

void ServerExchange::reply(int status, std::string_view body, Headers headers) {
  headers.set("Content-Length", std::to_string(body.size()));
  if (writeHead(status, headers) && request_.method != "HEAD") write(body);
}

bool ServerExchange::writeHead(int status, const Headers& headers) {
  answered_ = true;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reasonPhrase(status)) + "\r\n";
  for (const auto& [k, v] : headers.items()) head += k + ": " + v + "\r\n";
  return sendAll(fd_, head + "\r\n");
}

bool ServerExchange::write(std::string_view bytes) {
  if (stall_for_.count() > 0 && body_sent_ + bytes.size() >= stall_after_) {
    std::size_t before = static_cast<std::size_t>(stall_after_ - std::min(stall_after_, body_sent_));
    auto duration = stall_for_;
    stall_for_ = std::chrono::milliseconds(0);  // once
    if (!write(bytes.substr(0, before))) return false;
    stall(duration);
    return write(bytes.substr(before));
  }
  if (body_sent_ + bytes.size() > cut_after_) {
    sendAll(fd_, bytes.substr(0, static_cast<std::size_t>(cut_after_ - std::min(cut_after_, body_sent_))));
    body_sent_ = cut_after_;
    close_ = true;
    return false;
  }
  body_sent_ += bytes.size();
  return sendAll(fd_, bytes);
}

bool ServerExchange::stall(std::chrono::milliseconds duration) {
  std::unique_lock lock(server_.mu_);
  return !server_.wake_.wait_for(lock, duration, [&] { return server_.stopping_.load(); });
}

// ---- HttpServer ----

HttpServer::HttpServer(Handler handler, const std::string& address, bool listening)
    : handler_(std::move(handler)), host_(address) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  socklen_t len = sizeof in;
  // Bound, the port stays this server's while nothing listens on it.
  if (listen_fd_ < 0 || ::inet_pton(AF_INET, address.c_str(), &in.sin_addr) != 1 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&in), len) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&in), &len) != 0) {
    std::string err = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("test server cannot listen on " + address + ": " + err);
  }
  port_ = ntohs(in.sin_port);
  if (listening) listen();
}

void HttpServer::listen() {
  if (acceptor_.joinable() || stopping_) return;
  if (::listen(listen_fd_, 128) != 0)
    throw std::runtime_error("test server cannot listen on " + host_ + ": " + std::strerror(errno));
  acceptor_ = std::thread([this] { acceptLoop(); });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes recv() and send()
  }
  wake_.notify_all();
  for (auto& c : conns_) c.thread.join();
  conns_.clear();
}

void HttpServer::reapFinished() {
  std::lock_guard lock(mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = conns_.erase(it);
  }
}

void HttpServer::acceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    reapFinished();
    std::lock_guard lock(mu_);
    open_fds_.insert(fd);
    Conn& conn = conns_.emplace_back();
    conn.thread = std::thread([this, fd, &conn] { serve(fd, conn); });
  }
}

// Reads one request from fd (bytes already received are in buf, and what is
// read past the request stays there); false when the peer closed or sent
// something that is not HTTP.
static bool readRequest(int fd, std::string& buf, ServerRequest& req) {
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos && buf.size() < kMaxHead)
    if (!readMore(fd, buf)) return false;
  if (end == std::string::npos || !parseHead(buf.substr(0, end + 2), req)) return false;
  std::size_t pos = end + 4;
  if (req.headers.get("Transfer-Encoding").find("chunked") != std::string::npos) {
    if (!readChunked(fd, buf, pos, req.body)) return false;
  } else if (req.headers.has("Content-Length")) {
    std::size_t length = std::stoul(req.headers.get("Content-Length"));
    while (buf.size() - pos < length)
      if (!readMore(fd, buf)) return false;
    req.body = buf.substr(pos, length);
    pos += length;
  }
  buf.erase(0, pos);
  return true;
}

void HttpServer::serve(int fd, Conn& conn) {
  std::string buf;
  ServerRequest req;
  while (!stopping_ && readRequest(fd, buf, req)) {
    ServerExchange ex(*this, fd, req);
    try {
      handler_(ex);
    } catch (const std::exception& e) {
      if (!ex.answered()) ex.reply(500, std::string("test handler threw: ") + e.what());
      ex.closeConnection();
    }
    if (!ex.answered()) ex.reply(500, "the test handler did not answer");
    if (ex.closing() || req.headers.get("Connection") == "close") break;
    req = ServerRequest{};
  }
  {
    std::lock_guard lock(mu_);
    open_fds_.erase(fd);
    ::close(fd);
  }
  conn.done = true;
}

}  // namespace berth::it

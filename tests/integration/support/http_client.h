// A small blocking HTTP/1.1 client over POSIX sockets (optionally TLS), for
// tests that talk to a daemon or an upstream on the loopback interface. Request bodies are a string or are
// streamed from a callback (with Content-Length or chunked); response bodies
// are collected into a string or streamed to a callback.
//
// Not thread-safe: one HttpClient per thread. Transport failures (connect,
// timeout, a peer that closes mid-response) throw std::runtime_error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;

namespace berth::it {

// Header fields in order; names compare case-insensitively.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> items);

  void add(std::string name, std::string value);
  void set(std::string name, std::string value);  // replaces every field of that name
  bool has(std::string_view name) const;
  std::string get(std::string_view name) const;  // "" when absent
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // empty when the body went to a sink

  std::string header(std::string_view name) const { return headers.get(name); }
  nlohmann::json json() const;  // discarded value when the body is not JSON
  // The code of the first entry of a {"errors":[...]} body, or "".
  std::string errorCode() const;
  // "<status> <headers> <body>" for failure messages (body cut at 1 KiB).
  std::string describe() const;
};

// Fills buf with up to capacity bytes of a streamed body; 0 ends it.
using BodySource = std::function<std::size_t(char* buf, std::size_t capacity)>;
using BodySink = std::function<void(const char* data, std::size_t size)>;

struct Request {
  std::string method = "GET";
  std::string target;  // path and query
  Headers headers;
  std::string body;  // used when source is empty
  BodySource source;
  // With a source: the Content-Length to announce; without one the body is chunked.
  std::optional<uint64_t> content_length;
  bool chunked = false;  // send even a string body with Transfer-Encoding: chunked
};

// How a raw Socket connects: from which local address (another loopback
// address is another client to the server), with how small a receive
// buffer (set before connect, so the window the server sees stays small),
// and whether it speaks TLS.
struct SocketOptions {
  std::string bind_address = {};  // "" = the kernel's choice
  int receive_buffer = 0;    // SO_RCVBUF in bytes; 0 = the default
  // Non-empty: TLS, verifying the server's chain against this PEM bundle and
  // its name against tls_server_name (an IP address or DNS name; "" = host).
  std::string tls_ca_file = {};
  std::string tls_server_name = {};
};

// One connected TCP socket (SOCK_CLOEXEC, with send/receive timeouts).
class Socket {
 public:
  Socket(const std::string& host, uint16_t port, int timeout_seconds = 60, const SocketOptions& options = {});
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // False when the peer is gone (EPIPE, ECONNRESET).
  bool writeAll(std::string_view data);
  // Bytes read, 0 at end of stream; throws on error or timeout.
  std::size_t readSome(char* buf, std::size_t size);
  // True when the peer closed (or sent unsolicited bytes on) an idle connection.
  bool idleConnectionBroken() const;
  int fd() const { return fd_; }

 private:
  // TLS (tls_socket.cc): handshake and verification; throws on failure.
  void startTls(const std::string& host, const SocketOptions& options);
  bool tlsWrite(std::string_view data);
  std::size_t tlsRead(char* buf, std::size_t size);
  void endTls();

  int fd_ = -1;
  ssl_ctx_st* tls_ctx_ = nullptr;
  ssl_st* tls_ = nullptr;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, bool keep_alive = true, SocketOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) = default;

  // Points the client at another address (a restarted daemon); drops the connection.
  void retarget(std::string host, uint16_t port);
  void close();
  // Header fields sent with every request that does not set them itself
  // (e.g. Authorization for an upstream that needs credentials).
  void setDefaultHeaders(Headers headers) { defaults_ = std::move(headers); }
  const Headers& defaultHeaders() const { return defaults_; }
  // The Host header sent (default: the address connected to), e.g. a
  // repository's subdomain, as a client that resolved that name would send.
  void setHostHeader(std::string host) { host_header_ = std::move(host); }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  // Sends a request and reads the response. With a sink, the body is passed to
  // it in pieces and Response::body stays empty.
  Response send(const Request& req, const BodySink& sink = {});

  Response get(const std::string& target, Headers headers = {});
  Response head(const std::string& target, Headers headers = {});
  Response del(const std::string& target, Headers headers = {});
  Response post(const std::string& target, std::string body = {}, Headers headers = {});
  Response put(const std::string& target, std::string body = {}, Headers headers = {});
  Response patch(const std::string& target, std::string body, Headers headers = {});

 private:
  void writeRequest(const Request& req);
  Response readResponse(const std::string& method, const BodySink& sink);
  std::string readLine();
  void readBody(uint64_t length, Response& res, const BodySink& sink);
  void readChunkedBody(Response& res, const BodySink& sink);

  std::string host_;
  uint16_t port_;
  bool keep_alive_;
  SocketOptions options_;
  Headers defaults_;
  std::string host_header_;  // empty: host_:port_
  std::unique_ptr<Socket> socket_;
  std::string buf_;  // received, not yet consumed
  std::size_t pos_ = 0;
};

// Reads from s until the text contains `until` or the peer closes (a
// never-sent marker such as "\x01never" reads to the close).
std::string readUntil(Socket& s, const std::string& until);

// "host:port" -> {host, port}; throws on a malformed address.
std::pair<std::string, uint16_t> splitHostPort(const std::string& address);

}  // namespace berth::it

// Everything that touches a socket, all over loopback: target addresses, the
// keep-alive HTTP/1.1 client connection, and raw TCP for the loopback
// measurement. net.cc is the only translation unit that includes Asio/Beast.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth_bench {

class Pattern;

// A server under test; the address is always a loopback literal.
struct Target {
  std::string hostport;  // as given: the Host header, and what Location/Link URLs must name
  std::string address;   // literal IP address
  unsigned short port = 0;
};

// HOST:PORT with a literal loopback HOST (or "localhost"); anything else fails.
Target parseTarget(const std::string& s);

// Path (+query) of a Location/Link URL; absolute URLs must point at the target.
std::string pathOf(const std::string& url, const Target& t);
std::string withQuery(const std::string& url, const std::string& q);
std::string urlEncode(std::string_view s);

struct Resp {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined with ", "
  std::string body;
  uint64_t body_bytes = 0;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

using Sink = std::function<void(const uint8_t*, size_t)>;
using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

struct Req {
  std::string_view method{};
  std::string_view target{};
  Headers headers{};
  std::string_view body{};
  const Pattern* stream = nullptr;  // body from a pattern instead of `body`
  uint64_t stream_off = 0, stream_len = 0;
  const Sink* sink = nullptr;  // 2xx body to the sink instead of Resp::body
};

// One synchronous keep-alive connection; (re)connects on demand.
class Conn {
 public:
  explicit Conn(const Target& t);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void close();
  // A failed reused connection is retried once on a fresh one (not for streamed uploads).
  Resp send(const Req& rq);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// "HTTP <status> <start of body>", one line.
std::string describe(const Resp& r);
void expectStatus(const Resp& r, int want, const std::string& what);

// A port on 127.0.0.1 that was free a moment ago.
unsigned short freeLoopbackPort();

// Sends the whole pattern over one 127.0.0.1 connection to a receiving thread.
struct LoopbackTransfer {
  uint64_t received = 0;
  double seconds = 0;  // from connected to all bytes received
};
LoopbackTransfer transferOverLoopback(const Pattern& pat);

}  // namespace berth_bench

#include "net.h"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <thread>

#include "common.h"
#include "data.h"

namespace berth_bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A literal address; "localhost" is taken as 127.0.0.1 and IPv6 brackets are removed.
std::optional<asio::ip::address> literalAddress(std::string host) {
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return addr;
}

}  // namespace

// ---------------------------------------------------------------- targets and URLs

Target parseTarget(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) fail("target must be HOST:PORT: " + s);
  auto addr = literalAddress(s.substr(0, colon));
  if (!addr) fail("target host must be a literal loopback address: " + s);
  if (!addr->is_loopback()) fail("refusing non-loopback target " + s + " (only 127.0.0.0/8 and ::1 are allowed)");
  int p = std::stoi(s.substr(colon + 1));
  if (p <= 0 || p > 65535) fail("bad port in " + s);
  return Target{s, addr->to_string(), static_cast<unsigned short>(p)};
}

std::string pathOf(const std::string& url, const Target& t) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    auto hs = url.find("//") + 2;
    auto slash = url.find('/', hs);
    std::string host = url.substr(hs, slash == std::string::npos ? std::string::npos : slash - hs);
    auto addr = literalAddress(host.substr(0, host.rfind(':')));
    if (!addr || !addr->is_loopback()) fail("refusing to follow non-loopback URL " + url);
    if (host != t.hostport) fail("URL points at another server: " + url);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }
  return url;
}

std::string withQuery(const std::string& url, const std::string& q) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + q;
}

std::string urlEncode(std::string_view s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// ---------------------------------------------------------------- HTTP connection

class Conn::Impl {
 public:
  explicit Impl(const Target& t) : t_(t), ep_(asio::ip::make_address(t.address), t.port), sock_(ioc_) {}

  void close() {
    boost::system::error_code ec;
    if (sock_.is_open()) {
      sock_.shutdown(tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }
    buf_.clear();
  }

  Resp send(const Req& rq) {
    for (int attempt = 0;; ++attempt) {
      bool fresh = ensure();
      bool wrote_all = false;
      try {
        writeRequest(rq);
        wrote_all = true;
        return readResponse(rq);
      } catch (const boost::system::system_error& e) {
        if (!wrote_all && rq.stream) {
          // The server may have answered (e.g. an error) before reading the whole body.
          try {
            Resp r = readResponse(rq);
            close();
            return r;
          } catch (const std::exception&) {
          }
        }
        close();
        // A reused keep-alive connection may have been closed by the server while idle: retry once.
        bool retry = !fresh && attempt == 0 && rq.stream == nullptr;
        if (!retry) {
          if (!wrote_all && rq.stream) fail(std::string("upload aborted by server: ") + e.what());
          fail(std::string(rq.method) + " " + std::string(rq.target) + ": " + e.what());
        }
      }
    }
  }

 private:
  bool ensure() {
    if (sock_.is_open()) return false;
    buf_.clear();
    sock_.connect(ep_);
    sock_.set_option(tcp::no_delay(true));
    return true;
  }

  void writeRequest(const Req& rq) {
    head_.clear();
    head_.append(rq.method).append(" ").append(rq.target).append(" HTTP/1.1\r\nHost: ").append(t_.hostport);
    head_.append("\r\nUser-Agent: berth_bench/1\r\n");
    for (auto& [k, v] : rq.headers) head_.append(k).append(": ").append(v).append("\r\n");
    uint64_t len = rq.stream ? rq.stream_len : rq.body.size();
    bool body_method = rq.method == "PUT" || rq.method == "POST" || rq.method == "PATCH";
    if (len || body_method) head_.append("Content-Length: ").append(std::to_string(len)).append("\r\n");
    head_.append("\r\n");
    if (!rq.stream) {
      std::array<asio::const_buffer, 2> bufs{asio::buffer(head_), asio::buffer(rq.body.data(), rq.body.size())};
      asio::write(sock_, bufs);
      return;
    }
    asio::write(sock_, asio::buffer(head_));
    rq.stream->forEachSpan(rq.stream_off, rq.stream_len, 4 * MiB,
                           [this](const uint8_t* p, size_t n) { asio::write(sock_, asio::buffer(p, n)); });
  }

  template <class Parser>
  void collectHeaders(Parser& p, Resp& r) {
    auto& m = p.get();
    r.status = static_cast<int>(m.result_int());
    for (auto const& f : m) {
      auto& slot = r.headers[toLower(std::string(f.name_string()))];
      if (!slot.empty()) slot += ", ";
      slot += std::string(f.value());
    }
  }

  Resp readResponse(const Req& rq) {
    Resp r;
    bool head = rq.method == "HEAD";
    if (!rq.sink) {
      http::response_parser<http::string_body> p;
      p.header_limit(256 * 1024);
      p.body_limit(512 * MiB);
      if (head) p.skip(true);
      http::read(sock_, buf_, p);
      collectHeaders(p, r);
      r.body = std::move(p.get().body());
      r.body_bytes = r.body.size();
      if (!p.get().keep_alive()) close();
      return r;
    }
    // Streaming download.
    http::response_parser<http::buffer_body> p;
    p.header_limit(256 * 1024);
    p.body_limit(boost::none);
    if (head) p.skip(true);
    http::read_header(sock_, buf_, p);
    collectHeaders(p, r);
    bool ok = r.status >= 200 && r.status < 300;
    Sink to_string = [&r](const uint8_t* d, size_t n) { r.body.append(reinterpret_cast<const char*>(d), n); };
    const Sink& sink = ok ? *rq.sink : to_string;
    if (!big_) big_ = std::make_unique<uint8_t[]>(kBig);
    if (p.is_done()) {
      // no body
    } else if (p.content_length() && !p.chunked()) {
      // Fast path: bytes after the header straight from the socket.
      uint64_t remaining = *p.content_length();
      if (buf_.size()) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(buf_.size(), remaining));
        sink(static_cast<const uint8_t*>(buf_.data().data()), take);
        buf_.consume(take);
        remaining -= take;
        r.body_bytes += take;
      }
      while (remaining) {
        size_t n = sock_.read_some(asio::buffer(big_.get(), static_cast<size_t>(std::min<uint64_t>(kBig, remaining))));
        sink(big_.get(), n);
        remaining -= n;
        r.body_bytes += n;
      }
    } else {
      while (!p.is_done()) {
        p.get().body().data = big_.get();
        p.get().body().size = kBig;
        boost::system::error_code ec;
        http::read(sock_, buf_, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) throw boost::system::system_error(ec);
        size_t n = kBig - p.get().body().size;
        sink(big_.get(), n);
        r.body_bytes += n;
      }
    }
    if (!p.get().keep_alive()) close();
    return r;
  }

  static constexpr size_t kBig = 1 * MiB;
  Target t_;
  tcp::endpoint ep_;
  asio::io_context ioc_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::string head_;
  std::unique_ptr<uint8_t[]> big_;
};

Conn::Conn(const Target& t) : impl_(std::make_unique<Impl>(t)) {}
Conn::~Conn() { impl_->close(); }
void Conn::close() { impl_->close(); }
Resp Conn::send(const Req& rq) { return impl_->send(rq); }

std::string describe(const Resp& r) {
  std::string b = r.body.substr(0, 300);
  for (auto& c : b)
    if (c == '\n' || c == '\r') c = ' ';
  return "HTTP " + std::to_string(r.status) + (b.empty() ? "" : " " + b);
}

void expectStatus(const Resp& r, int want, const std::string& what) {
  if (r.status != want) fail(what + ": want " + std::to_string(want) + ", got " + describe(r));
}

// ---------------------------------------------------------------- raw TCP

unsigned short freeLoopbackPort() {
  asio::io_context ioc;
  tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acc.local_endpoint().port();
}

// One sender (this thread), one receiver thread, one connection.
LoopbackTransfer transferOverLoopback(const Pattern& pat) {
  asio::io_context ioc;
  tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto ep = acc.local_endpoint();
  LoopbackTransfer out;
  std::thread rx([&] {
    tcp::socket s(ioc);
    acc.accept(s);
    std::vector<uint8_t> buf(1 * MiB);
    boost::system::error_code ec;
    while (true) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      out.received += n;
      if (ec) break;
    }
  });
  asio::io_context ioc2;
  tcp::socket tx(ioc2);
  tx.connect(ep);
  auto t0 = Clock::now();
  pat.forEachSpan(0, pat.size(), 4 * MiB, [&tx](const uint8_t* p, size_t n) { asio::write(tx, asio::buffer(p, n)); });
  tx.shutdown(tcp::socket::shutdown_send);
  rx.join();
  out.seconds = secondsSince(t0);
  return out;
}

}  // namespace berth_bench

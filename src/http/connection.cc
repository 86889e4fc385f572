// The only translation unit that parses HTTP (Beast's parser over our own
// blocking Transport). Responses are formatted by hand: a status line and
// headers, then the body or a sendfile of a blob.
#include "http/connection.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

namespace berth::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kBodyChunk = 256 * 1024;

// Beast's SyncReadStream over a Transport.
struct ReadAdapter {
  Transport& t;
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    auto b = *boost::asio::buffer_sequence_begin(buffers);
    ssize_t n = t.readSome(b.data(), b.size());
    if (n == 0) {
      ec = boost::asio::error::eof;
      return 0;
    }
    if (n < 0) {
      ec = beast::error_code(errno ? errno : EIO, boost::system::system_category());
      return 0;
    }
    ec = {};
    return static_cast<std::size_t>(n);
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    beast::error_code ec;
    auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(Transport& t, beast::flat_buffer& buf, bhttp::request_parser<bhttp::empty_body>& hp, HttpRequest req,
               BodyBudget* budget)
      : t_(t), buf_(buf), hp_(hp), req_(std::move(req)), budget_(budget) {
    if (hp_.content_length()) {
      content_length_ = *hp_.content_length();
      remaining_ = *content_length_;
    }
    chunked_ = hp_.chunked();
    body_done_ = !chunked_ && remaining_ == 0;
  }

  const HttpRequest& request() const override { return req_; }
  std::optional<uint64_t> contentLength() const override { return content_length_; }
  bool responded() const override { return responded_; }
  bool bodyDone() const { return body_done_; }
  bool failed() const { return failed_; }
  int status() const { return status_; }
  uint64_t bytesIn() const { return bytes_in_; }
  uint64_t bytesOut() const { return bytes_out_; }

  ~ExchangeImpl() override {
    if (budget_ && reserved_ > 0) budget_->give(reserved_);
  }

  Result<std::string> readBody(std::size_t limit, const Error& too_large) override {
    if (content_length_ && *content_length_ > limit) return tl::unexpected(too_large);
    // Held until the exchange ends: the handler keeps the body (and what it
    // parses from it) for the rest of the request.
    if (content_length_ && !reserve(*content_length_)) return overBudget();
    std::string out;
    auto n = streamBody([&](const char* d, std::size_t s) -> Status {
      if (out.size() + s > limit) return tl::unexpected(too_large);
      if (!content_length_ && !reserve(s)) return overBudget();  // chunked: as it arrives
      out.append(d, s);
      return {};
    });
    if (!n) return tl::unexpected(n.error());
    return out;
  }

  Result<uint64_t> streamBody(const BodySink& sink) override {
    if (body_done_) return uint64_t{0};
    if (lower(req_.header("expect")) == "100-continue" && !continued_) {
      continued_ = true;
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!t_.writeAll(kContinue, sizeof kContinue - 1)) return ioError("writing 100 Continue");
    }
    return chunked_ ? streamChunked(sink) : streamLength(sink);
  }

  void respond(HttpResponse res) override {
    bool head = req_.method == "HEAD";
    bool has_length = false;
    for (const auto& [k, v] : res.headers)
      if (lower(k) == "content-length") has_length = true;
    if (!has_length && res.status != 204 && !(res.status >= 100 && res.status < 200))
      res.set("Content-Length", std::to_string(res.body.size()));
    std::string out = head_(res);
    if (!head) out += res.body;
    finishWrite(t_.writeAll(out.data(), out.size()), head ? 0 : res.body.size(), res.close);
  }

  void respondFile(HttpResponse res, int fd, uint64_t offset, uint64_t length) override {
    res.body.clear();
    res.set("Content-Length", std::to_string(length));
    std::string out = head_(res);
    bool ok = t_.writeAll(out.data(), out.size());
    if (ok && req_.method != "HEAD") ok = t_.writeFile(fd, offset, length);
    finishWrite(ok, req_.method == "HEAD" ? 0 : length, res.close);
  }

 private:
  bool reserve(uint64_t n) {
    if (!budget_) return true;
    if (!budget_->tryTake(n)) return false;
    reserved_ += n;
    return true;
  }
  static tl::unexpected<Error> overBudget() {
    // The detail is the Retry-After value (api.cc).
    return fail(ErrorCode::TooManyRequests, "the server is busy with other requests' bodies; retry shortly", "1");
  }

  tl::unexpected<Error> ioError(const char* what) {
    failed_ = true;
    return fail(ErrorCode::Unknown, std::string("connection error while ") + what);
  }

  Result<uint64_t> streamLength(const BodySink& sink) {
    uint64_t total = 0;
    // Bytes that arrived with the header first, then straight from the socket.
    while (remaining_ > 0 && buf_.size() > 0) {
      auto data = buf_.data();
      std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(remaining_, data.size()));
      if (auto st = feed(sink, static_cast<const char*>(data.data()), n); !st) return tl::unexpected(st.error());
      buf_.consume(n);
      total += n;
    }
    std::vector<char> chunk(static_cast<std::size_t>(std::min<uint64_t>(remaining_, kBodyChunk)));
    while (remaining_ > 0) {
      ssize_t n = t_.readSome(chunk.data(), static_cast<std::size_t>(std::min<uint64_t>(remaining_, chunk.size())));
      if (n <= 0) return ioError("reading the request body");
      if (auto st = feed(sink, chunk.data(), static_cast<std::size_t>(n)); !st) return tl::unexpected(st.error());
      total += static_cast<uint64_t>(n);
    }
    body_done_ = true;
    return total;
  }

  Status feed(const BodySink& sink, const char* data, std::size_t n) {
    remaining_ -= n;
    bytes_in_ += n;
    return sink(data, n);
  }

  Result<uint64_t> streamChunked(const BodySink& sink) {
    bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp_));
    bp.body_limit(boost::none);
    ReadAdapter stream{t_};
    std::vector<char> chunk(kBodyChunk);
    uint64_t total = 0;
    while (!bp.is_done()) {
      bp.get().body().data = chunk.data();
      bp.get().body().size = chunk.size();
      beast::error_code ec;
      bhttp::read(stream, buf_, bp, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        // Beast's parse errors (a bad chunk size, a missing CRLF) are the
        // client's malformed body, not a lost connection.
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          failed_ = true;
          return fail(ErrorCode::BadRequest, "malformed chunked request body");
        }
        return ioError("reading a chunked request body");
      }
      std::size_t n = chunk.size() - bp.get().body().size;
      if (n == 0) continue;
      bytes_in_ += n;
      total += n;
      if (auto st = sink(chunk.data(), n); !st) return tl::unexpected(st.error());
    }
    body_done_ = true;
    return total;
  }

  std::string head_(HttpResponse& res) {
    status_ = res.status;
    if (res.close || !body_done_) res.close = true;
    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " ";
    out += reasonPhrase(res.status);
    out += "\r\n";
    for (const auto& [k, v] : res.headers) {
      out += k;
      out += ": ";
      out += v;
      out += "\r\n";
    }
    if (res.close) out += "Connection: close\r\n";
    out += "\r\n";
    return out;
  }

  void finishWrite(bool ok, uint64_t body_bytes, bool close) {
    responded_ = true;
    bytes_out_ += body_bytes;
    if (!ok || close) failed_ = true;
  }

  Transport& t_;
  beast::flat_buffer& buf_;
  bhttp::request_parser<bhttp::empty_body>& hp_;
  HttpRequest req_;
  BodyBudget* budget_;
  uint64_t reserved_ = 0;
  std::optional<uint64_t> content_length_;
  uint64_t remaining_ = 0;
  bool chunked_ = false, body_done_ = false, continued_ = false, responded_ = false, failed_ = false;
  int status_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

HttpRequest toRequest(const bhttp::request_parser<bhttp::empty_body>& hp, const Transport& t,
                      const TrustedProxies& trusted) {
  const std::string& remote = t.remote();
  const auto& m = hp.get();
  HttpRequest r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = parseQuery(std::string_view(r.target).substr(q + 1));
  for (const auto& f : m) r.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  r.remote = remote;
  r.secure = t.secure();
  std::vector<std::string_view> forwarded_for, forwarded_proto;
  for (const auto& [k, v] : r.headers) {
    if (k == "x-forwarded-for") forwarded_for.push_back(v);
    if (k == "x-forwarded-proto") forwarded_proto.push_back(v);
  }
  auto client = resolveClient(trusted, remote, forwarded_for, forwarded_proto);
  r.client = std::move(client.address);
  r.forwarded_proto = std::move(client.proto);
  r.has_body = hp.chunked() || (hp.content_length() && *hp.content_length() > 0);
  return r;
}

void writeSimple(Transport& t, int status, std::string_view message) {
  std::string body = R"({"errors":[{"code":"UNKNOWN","message":")" + std::string(message) + "\"}]}";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reasonPhrase(status)) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body;
  t.writeAll(out.data(), out.size());
}

}  // namespace

Connection::Connection(TransportPtr transport, const ConnectionOptions& options, const RequestHandler& handler,
                       const ExchangeObserver& observer)
    : transport_(std::move(transport)), options_(options), handler_(handler), observer_(observer) {}

void Connection::stop() {
  stopping_ = true;
  if (idle_) transport_->shutdownRead();
}

void Connection::abort() {
  stopping_ = true;
  transport_->shutdownBoth();
}

void Connection::run() {
  beast::flat_buffer buf;
  ReadAdapter stream{*transport_};
  while (true) {
    idle_ = true;
    if (stopping_) return;
    transport_->setTimeout(options_.idle_timeout_seconds);
    bhttp::request_parser<bhttp::empty_body> hp;
    hp.header_limit(static_cast<std::uint32_t>(options_.header_limit));
    hp.body_limit(boost::none);
    beast::error_code ec;
    bhttp::read_header(stream, buf, hp, ec);
    idle_ = false;
    if (ec == bhttp::error::header_limit) return writeSimple(*transport_, 431, "request header too large");
    if (ec == bhttp::error::end_of_stream || ec == boost::asio::error::eof) return;
    if (ec) {
      if (buf.size() > 0) writeSimple(*transport_, 400, "malformed HTTP request");
      return;
    }
    transport_->setTimeout(options_.read_timeout_seconds);
    const bool keep_alive = hp.keep_alive();  // read now: a chunked body moves the parser
    auto start = std::chrono::steady_clock::now();
    ExchangeImpl ex(*transport_, buf, hp, toRequest(hp, *transport_, options_.trusted_proxies),
                    options_.body_budget.get());
    handler_(ex);
    if (!ex.responded()) {  // a handler bug: still answer in the spec's form
      HttpResponse res;
      res.status = 500;
      res.close = true;
      res.set("Content-Type", "application/json");
      res.body = R"({"errors":[{"code":"UNKNOWN","message":"the request was not answered"}]})";
      ex.respond(std::move(res));
    }
    if (observer_) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      observer_({&ex.request(), ex.status(), ex.bytesIn(), ex.bytesOut(), secs});
    }
    if (ex.failed() || !ex.bodyDone() || !keep_alive) return;
  }
}

}  // namespace berth::http

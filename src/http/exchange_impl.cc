// The worker side of a connection: one request, run in a coroutine with the
// synchronous Exchange that handlers know. Reading the body and writing the
// response suspend the coroutine while the client is slow (StreamIo); disk
// work in the handler blocks this worker thread only.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include <spdlog/spdlog.h>

#include "http/front_end.h"
#include "http/stream_io.h"
#include "http/suspender.h"

namespace berth::http {
namespace {

constexpr std::size_t kBodyChunk = 256 * 1024;
// A chunk-size line (with its extensions) or the trailer section: a body
// that sends more than this without ending one is refused, not buffered.
constexpr std::size_t kMaxChunkLine = 64 * 1024;

// Not zero-filled: pages are touched (and cost memory) only as data
// arrives, so a slow upload holds a few KiB of its 256 KiB buffer, not all.
std::unique_ptr<char[]> bodyBuffer(std::size_t n) { return std::unique_ptr<char[]>(new char[n]); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(StreamIo& io, beast::flat_buffer& buf, HeaderParser& hp, HttpRequest req, BodyBudget* budget,
               const std::atomic<bool>& stopping)
      : io_(io), buf_(buf), hp_(hp), req_(std::move(req)), budget_(budget), stopping_(stopping) {
    if (hp_.content_length()) {
      content_length_ = *hp_.content_length();
      remaining_ = *content_length_;
    }
    chunked_ = hp_.chunked();
    body_done_ = !chunked_ && remaining_ == 0;
    // HTTP/1.0 keeps a connection open only when the answer says so.
    http10_keep_alive_ = hp_.get().version() == 10 && hp_.keep_alive();
  }
  ~ExchangeImpl() override {
    if (budget_ && reserved_ > 0) budget_->give(reserved_);
  }

  const HttpRequest& request() const override { return req_; }
  std::optional<uint64_t> contentLength() const override { return content_length_; }
  bool responded() const override { return responded_; }
  void pause(std::chrono::milliseconds d) override { suspender_.pause(d); }
  Suspender* suspender() override { return &suspender_; }
  ExchangeNotes& notes() override { return notes_; }
  bool bodyDone() const { return body_done_; }
  bool failed() const { return failed_; }
  int status() const { return status_; }
  uint64_t bytesIn() const { return bytes_in_; }
  uint64_t bytesOut() const { return bytes_out_; }

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
    io_.beginTransfer();
    if (lower(req_.header("expect")) == "100-continue" && !continued_) {
      continued_ = true;
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::const_buffer b(kContinue, sizeof kContinue - 1);
      if (!io_.writeAll(&b, 1)) return ioError("writing 100 Continue");
    }
    auto result = chunked_ ? streamChunked(sink) : streamLength(sink);
    io_.endTransfer();
    return result;
  }

  void respond(HttpResponse res) override {
    bool head = req_.method == "HEAD";
    bool has_length = false;
    for (const auto& [k, v] : res.headers)
      if (lower(k) == "content-length") has_length = true;
    if (!has_length && res.status != 204 && !(res.status >= 100 && res.status < 200))
      res.set("Content-Length", std::to_string(res.body.size()));
    std::string top = head_(res);
    asio::const_buffer parts[2] = {asio::buffer(top), asio::buffer(res.body)};
    io_.beginTransfer();
    bool ok = io_.writeAll(parts, head ? 1 : 2);
    io_.endTransfer();
    finishWrite(ok, head ? 0 : res.body.size(), res.close);
  }

  void respondFile(HttpResponse res, int fd, uint64_t offset, uint64_t length, const ReadyFn& ready) override {
    res.body.clear();
    res.set("Content-Length", std::to_string(length));
    std::string top = head_(res);
    asio::const_buffer b = asio::buffer(top);
    io_.beginTransfer();
    bool ok = io_.writeAll(&b, 1);
    uint64_t sent = 0;
    if (ok && req_.method != "HEAD") {
      if (!ready) {
        sent = io_.sendFile(fd, offset, length);
        ok = sent == length;
      } else {
        ok = sendGrowing(fd, offset, length, ready, sent);
      }
    }
    io_.endTransfer();
    finishWrite(ok, sent, res.close);
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

  // Sends what the file holds as it grows. Waiting for the writer is not the
  // client's slowness: the rate rule judges each stretch of sending anew.
  bool sendGrowing(int fd, uint64_t offset, uint64_t length, const ReadyFn& ready, uint64_t& sent) {
    while (sent < length) {
      uint64_t pos = offset + sent;
      io_.endTransfer();
      auto have = ready(pos);
      io_.beginTransfer();
      if (!have || *have <= pos) return false;
      uint64_t n = std::min(*have - pos, length - sent);
      uint64_t done = io_.sendFile(fd, pos, n);
      sent += done;
      if (done != n) return false;
    }
    return true;
  }

  tl::unexpected<Error> ioError(const char* what) {
    failed_ = true;
    if (io_.timedOut())
      return fail(ErrorCode::RequestTimeout, std::string("the request body arrived too slowly (") + what + ")");
    // The client went away or broke the connection: its fault, not ours
    // (the access log and metrics must not count it as a server error).
    return fail(ErrorCode::BadRequest, std::string("the connection ended while ") + what);
  }

  Status feed(const BodySink& sink, const char* data, std::size_t n) {
    remaining_ -= n;
    bytes_in_ += n;
    return sink(data, n);
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
    const std::size_t chunk_size = static_cast<std::size_t>(std::min<uint64_t>(remaining_, kBodyChunk));
    auto chunk = remaining_ > 0 ? bodyBuffer(chunk_size) : nullptr;
    while (remaining_ > 0) {
      boost::system::error_code ec;
      std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(remaining_, chunk_size));
      std::size_t n = io_.readSome(asio::buffer(chunk.get(), want), ec);
      if (ec || n == 0) return ioError("reading the request body");
      if (auto st = feed(sink, chunk.get(), n); !st) return tl::unexpected(st.error());
      total += n;
    }
    body_done_ = true;
    return total;
  }

  // Beast's parser fed by hand, so that every read goes through StreamIo.
  Result<uint64_t> streamChunked(const BodySink& sink) {
    bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp_));
    bp.body_limit(std::numeric_limits<std::uint64_t>::max());
    auto chunk = bodyBuffer(kBodyChunk);
    uint64_t total = 0;
    while (!bp.is_done()) {
      bp.get().body().data = chunk.get();
      bp.get().body().size = kBodyChunk;
      beast::error_code ec = bhttp::error::need_more;
      std::size_t used = buf_.size() > 0 ? bp.put(buf_.data(), ec) : 0;
      buf_.consume(used);
      std::size_t n = kBodyChunk - bp.get().body().size;
      if (n > 0) {
        bytes_in_ += n;
        total += n;
        if (auto st = sink(chunk.get(), n); !st) return tl::unexpected(st.error());
      }
      if (ec == bhttp::error::need_more) {
        // Body bytes never stay in buf_ (the parser moves them to `chunk`):
        // what is left is an unfinished chunk line or trailer.
        if (buf_.size() >= kMaxChunkLine) {
          failed_ = true;
          return fail(ErrorCode::BadRequest, "a chunk-size line or trailer of the request body is too long");
        }
        boost::system::error_code rec;
        std::size_t got = io_.readSome(buf_.prepare(64 * 1024), rec);
        if (rec || got == 0) return ioError("reading a chunked request body");
        buf_.commit(got);
      } else if (ec && ec != bhttp::error::need_buffer) {
        failed_ = true;
        return fail(ErrorCode::BadRequest, "malformed chunked request body");
      }
    }
    body_done_ = true;
    return total;
  }

  std::string head_(HttpResponse& res) {
    status_ = res.status;
    if (res.close || !body_done_ || stopping_) res.close = true;
    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " ";
    out += reasonPhrase(res.status);
    out += "\r\n";
    for (const auto& [k, v] : res.headers) {
      out += k;
      out += ": ";
      out += v;
      out += "\r\n";
    }
    out += "X-Request-Id: ";
    out += req_.request_id;
    out += "\r\n";
    if (res.close)
      out += "Connection: close\r\n";
    else if (http10_keep_alive_)
      out += "Connection: keep-alive\r\n";
    out += "\r\n";
    return out;
  }

  void finishWrite(bool ok, uint64_t body_bytes, bool close) {
    responded_ = true;
    bytes_out_ += body_bytes;
    if (!ok || close) failed_ = true;
  }

  StreamIo& io_;
  Suspender suspender_{io_.yield()};
  beast::flat_buffer& buf_;
  HeaderParser& hp_;
  HttpRequest req_;
  BodyBudget* budget_;
  const std::atomic<bool>& stopping_;
  uint64_t reserved_ = 0;
  std::optional<uint64_t> content_length_;
  uint64_t remaining_ = 0;
  bool http10_keep_alive_ = false;
  bool chunked_ = false, body_done_ = false, continued_ = false, responded_ = false, failed_ = false;
  int status_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  ExchangeNotes notes_;
};

// The client's X-Request-Id when it is sane (it goes into the log and back
// in the response header): at most 128 printable ASCII characters, no space,
// quote or backslash. Otherwise a new one, 16 hex digits.
std::string requestIdFor(std::string_view sent) {
  bool sane = !sent.empty() && sent.size() <= 128;
  for (char c : sent)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') sane = false;
  if (sane) return std::string(sent);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

HttpRequest toRequest(const HeaderParser& hp, const std::string& remote, bool secure, const TrustedProxies& trusted,
                      const std::string& port_repository) {
  const auto& m = hp.get();
  HttpRequest r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = parseQuery(std::string_view(r.target).substr(q + 1));
  for (const auto& f : m) r.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  r.remote = remote;
  r.secure = secure;
  r.port_repository = port_repository;
  std::vector<std::string_view> forwarded_for, forwarded_proto;
  for (const auto& [k, v] : r.headers) {
    if (k == "x-forwarded-for") forwarded_for.push_back(v);
    if (k == "x-forwarded-proto") forwarded_proto.push_back(v);
  }
  auto client = resolveClient(trusted, remote, forwarded_for, forwarded_proto);
  r.client = std::move(client.address);
  r.forwarded_proto = std::move(client.proto);
  r.has_body = hp.chunked() || (hp.content_length() && *hp.content_length() > 0);
  r.request_id = requestIdFor(r.header("x-request-id"));
  return r;
}

}  // namespace

void Session::serveRequest(asio::yield_context yield) {
  const auto& o = server_.options.connection;
  StreamIo io(stream_, yield, RateLimits{o.min_body_bytes_per_second, std::chrono::seconds(o.read_timeout_seconds)});
  bool keep_open = false;
  {
    const bool keep_alive = parser_->keep_alive();  // read now: a chunked body moves the parser
    auto start = std::chrono::steady_clock::now();
    ExchangeImpl ex(io, buffer_, *parser_, toRequest(*parser_, remote_, stream_.secure(), o.trusted_proxies, *port_repository_),
                    o.body_budget.get(), server_.stopping);
    try {
      (plain_on_tls_ ? server_.plain_on_tls_handler : server_.handler)(ex);
    } catch (const std::exception& e) {
      spdlog::error("handler threw: {} ({} {})", e.what(), ex.request().method, ex.request().path);
    }
    if (!ex.responded()) {  // a handler bug: still answer in the spec's form
      HttpResponse res;
      res.status = 500;
      res.close = true;
      res.set("Content-Type", "application/json");
      res.body = errorBody(Error{ErrorCode::Unknown, "the request was not answered", {}});
      ex.respond(std::move(res));
    }
    if (server_.observer) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      server_.observer({&ex.request(), &ex.notes(), ex.status(), ex.bytesIn(), ex.bytesOut(), secs});
    }
    if (io.timedOut())
      server_.warnLimited(fmt::format("closed the connection from {}: {} {} moved slower than {} bytes/s over {} s",
                                      remote_, ex.request().method, ex.request().path,
                                      o.min_body_bytes_per_second, o.read_timeout_seconds));
    keep_open = !ex.failed() && ex.bodyDone() && keep_alive && !server_.stopping;
  }
  parser_.reset();
  if (!keep_open) return closeSocket();
  if (buffer_.size() == 0) buffer_ = beast::flat_buffer();  // an idle connection keeps no buffer
  asio::post(server_.loop, [self = shared_from_this()] { self->awaitRequest(); });
}

}  // namespace berth::http

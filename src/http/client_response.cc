// Reading a response of the outbound client (client.h): the body streams
// through Beast's parser into the caller's buffer, piece by piece; a body
// read to its end gives the connection back to the pool.
#include <algorithm>
#include <cctype>

#include "http/client_impl.h"

namespace berth::http {
namespace {

using outbound::Clock;
namespace bh = outbound::bhttp;

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<uint64_t> parseLength(std::string_view v) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (sameName(k, name)) return v;
  return {};
}

Result<std::string> ClientResponse::readAll(std::size_t limit) {
  auto too_large = [limit] {
    return tl::unexpected(
        Error{ErrorCode::Unavailable, "upstream response too large (over " + std::to_string(limit) + " bytes)", {}});
  };
  if (content_length && *content_length > limit) return too_large();
  std::string out;
  std::size_t step = std::clamp<std::size_t>(content_length.value_or(16 * 1024), 1, 256 * 1024);
  for (;;) {
    std::size_t at = out.size();
    out.resize(at + step);
    auto n = read(out.data() + at, step);
    if (!n) return tl::unexpected(n.error());
    out.resize(at + *n);
    if (*n == 0) return out;
    if (out.size() > limit) return too_large();
  }
}

ResponseImpl::ResponseImpl(ClientCore& client, outbound::Route route, outbound::ConnectionPtr conn,
                           std::unique_ptr<ResponseParser> parser, Suspender* owner,
                           std::optional<Clock::time_point> deadline)
    : client_(client),
      route_(std::move(route)),
      conn_(std::move(conn)),
      parser_(std::move(parser)),
      owner_(owner),
      deadline_(deadline) {
  const auto& msg = parser_->get();
  status = msg.result_int();
  for (const auto& field : msg) headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (!parser_->chunked()) content_length = parseLength(header("content-length"));
  if (parser_->is_done()) finish();  // HEAD, 204, 304, an empty body
}

Result<std::size_t> ResponseImpl::read(char* data, std::size_t size) {
  if (owner_) return readWith(*owner_, data, size);
  std::function<Result<std::size_t>(Suspender&)> run = [&](Suspender& s) { return readWith(s, data, size); };
  return client_.onPool(run, Result<std::size_t>(tl::unexpected(Error{
                                 ErrorCode::Unavailable, "the outbound client is out of coroutine stacks", {}})));
}

constexpr std::size_t kMaxUnparsed = 64 * 1024;

Result<std::size_t> ResponseImpl::readWith(Suspender& s, char* data, std::size_t size) {
  if (error_) return tl::unexpected(*error_);
  if (!conn_ || size == 0) return std::size_t{0};
  if (direct_left_) return readDirect(s, data, size);
  auto& c = *conn_;
  auto& body = parser_->get().body();
  for (;;) {
    if (c.buffer.size() > 0) {
      body.data = data;
      body.size = size;
      body.more = true;
      outbound::error_code ec;
      std::size_t used = parser_->put(c.buffer.data(), ec);
      c.buffer.consume(used);
      std::size_t got = size - body.size;
      if (ec == bh::error::need_buffer) ec = {};
      if (ec && ec != bh::error::need_more) return broken("malformed response body");
      if (parser_->is_done()) finish();
      if (got > 0 || !conn_) return got;
      if (used > 0 && !ec) continue;  // a chunk header: more may parse without reading
    }
    // What is left unparsed is a chunk-size line or trailer still arriving;
    // a real one is a few bytes. A server that never ends one must not grow
    // this buffer without bound.
    if (c.buffer.size() >= kMaxUnparsed) return broken("malformed response body (a chunk line or trailer too long)");
    // The parser would copy every byte once more (socket -> connection
    // buffer -> caller) for nothing when the rest is just so many bytes.
    if (c.buffer.size() == 0 && !parser_->chunked())
      if (auto left = parser_->content_length_remaining(); left && *left > 0) {
        direct_left_ = *left;
        return readDirect(s, data, size);
      }
    auto until = readDeadline();
    if (!until) return broken("timed out waiting for the whole response");
    outbound::error_code ec;
    outbound::readMore(c, s, *until, ec);
    if (ec == asio::error::eof) {
      parser_->put_eof(ec);
      if (ec || !parser_->is_done()) return broken("connection closed before the end of the body");
      finish();  // a body delimited by the end of the connection
      return std::size_t{0};
    }
    if (ec == asio::error::timed_out)
      return broken(deadline_ && Clock::now() >= *deadline_ ? "timed out waiting for the whole response"
                                                            : "timed out waiting for the response body");
    if (ec) return broken(outbound::describe(ec) + " while reading the body");
  }
}

Result<std::size_t> ResponseImpl::readDirect(Suspender& s, char* data, std::size_t size) {
  auto want = static_cast<std::size_t>(std::min<uint64_t>(size, *direct_left_));
  for (;;) {
    auto until = readDeadline();
    if (!until) return broken("timed out waiting for the whole response");
    outbound::error_code ec;
    std::size_t n = outbound::readInto(*conn_, s, *until, asio::buffer(data, want), ec);
    if (n > 0) {
      *direct_left_ -= n;
      if (*direct_left_ == 0) finish();
      return n;
    }
    if (ec == asio::error::eof) return broken("connection closed before the end of the body");
    if (ec == asio::error::timed_out)
      return broken(deadline_ && Clock::now() >= *deadline_ ? "timed out waiting for the whole response"
                                                            : "timed out waiting for the response body");
    if (ec) return broken(outbound::describe(ec) + " while reading the body");
  }
}

// Each read waits at most the timeout; a request that bounded its whole
// response (a token) ends at that deadline however steadily bytes come.
// Empty when that deadline has passed.
std::optional<outbound::Clock::time_point> ResponseImpl::readDeadline() const {
  auto until = Clock::now() + client_.options.timeout;
  if (!deadline_) return until;
  if (Clock::now() >= *deadline_) return std::nullopt;
  return std::min(until, *deadline_);
}

void ResponseImpl::drain(Suspender& s, std::size_t limit) {
  char scratch[8192];
  std::size_t total = 0;
  while (conn_ && total <= limit) {
    auto n = readWith(s, scratch, sizeof scratch);
    if (!n || *n == 0) return;
    total += *n;
  }
}

void ResponseImpl::finish() {
  auto c = std::move(conn_);
  // A byte past the response means a confused server: that connection is
  // not trusted again.
  if (parser_->keep_alive() && !c->expired && c->buffer.size() == 0 && !client_.stopping) client_.idle.give(std::move(c));
}

tl::unexpected<Error> ResponseImpl::broken(const std::string& what) {
  conn_.reset();
  error_ = Error{ErrorCode::Unavailable, route_.describe() + ": " + what, {}};
  return tl::unexpected(*error_);
}

}  // namespace berth::http

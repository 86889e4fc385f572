// The outbound HTTP/1.1 client (client.h): threads, routing through
// proxies, the request on the wire, the pooled-connection retry, redirects.
// Reading a response is in client_response.cc, connecting in
// client_connect.cc, connections and their pool in client_conn.cc.
#include <boost/asio/post.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/strand.hpp>
#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "http/client_impl.h"

namespace berth::http {
namespace {

using outbound::Clock;
using outbound::Route;
using tl::unexpected;

// Reserved address space, committed as touched (a TLS handshake uses tens of KiB).
constexpr std::size_t kStackBytes = 1024 * 1024;
// A redirect's own body is read and dropped up to this much, to keep its connection.
constexpr std::size_t kRedirectBodyKept = 64 * 1024;

tl::unexpected<Error> unavailable(std::string message) {
  return unexpected(Error{ErrorCode::Unavailable, std::move(message), {}});
}

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool validHeader(const std::string& name, const std::string& value) {
  static const std::string_view kTokenExtra = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && kTokenExtra.find(c) == std::string_view::npos) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

struct Wire {
  const std::string& method;
  const std::vector<std::pair<std::string, std::string>>& headers;
  const std::string& body;
  bool with_authorization;
};

// The request as sent: the caller's headers as given, plus Host, User-Agent
// and Content-Length unless the caller set them.
Result<std::string> requestText(const Route& route, const Url& url, const Wire& w) {
  auto has = [&](std::string_view name) {
    return std::any_of(w.headers.begin(), w.headers.end(), [&](const auto& h) { return sameName(h.first, name); });
  };
  if (!validHeader(w.method, "")) return unavailable("invalid request method");
  std::string t = w.method + " " + (route.absoluteForm() ? url.str() : url.target) + " HTTP/1.1\r\n";
  if (!has("host")) t += "Host: " + url.authority() + "\r\n";
  if (!has("user-agent")) t += "User-Agent: berth/" BERTH_VERSION "\r\n";
  if (route.absoluteForm())
    if (auto auth = route.proxyAuthorization(); !auth.empty()) t += "Proxy-Authorization: " + auth + "\r\n";
  for (const auto& [name, value] : w.headers) {
    if (!validHeader(name, value)) return unavailable("invalid request header " + name);
    if (!w.with_authorization && sameName(name, "authorization")) continue;
    t += name + ": " + value + "\r\n";
  }
  bool body_method = w.method == "POST" || w.method == "PUT" || w.method == "PATCH";
  if (!has("content-length") && (!w.body.empty() || body_method))
    t += "Content-Length: " + std::to_string(w.body.size()) + "\r\n";
  t += "\r\n";
  t += w.body;
  return t;
}

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Interim answers (100 Continue and the like) are skipped: the final one
// follows, within the same deadline.
outbound::error_code readResponseHeader(outbound::Connection& c, std::unique_ptr<ResponseParser>& parser, bool head,
                                        Suspender& s, Clock::time_point deadline, bool& received) {
  bool any = false;
  for (;;) {
    parser = std::make_unique<ResponseParser>();
    parser->header_limit(64 * 1024);  // CDN redirects carry long signed URLs
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head) parser->skip(true);
    auto ec = outbound::readHeader(c, *parser, s, deadline, received);
    received = received || any;
    if (ec) return ec;
    int status = parser->get().result_int();
    if (status >= 200 || status == 101) return {};
    any = true;
  }
}

std::string headerError(const outbound::error_code& ec) {
  namespace bh = outbound::bhttp;
  if (ec == asio::error::timed_out) return "timed out waiting for the response header";
  if (ec == bh::error::end_of_stream) return "connection closed before the response";
  if (ec == bh::error::partial_message) return "connection closed in the response header";
  if (ec == bh::error::header_limit) return "response header too large";
  if (ec.category() == bh::make_error_code(bh::error::need_more).category()) return "malformed response header";
  return outbound::describe(ec);
}

}  // namespace

ClientCore::ClientCore(ClientOptions o)
    : options(std::move(o)),
      tls(TlsContext::client(options.ca_file)),
      pool(std::max(1u, options.threads)),
      stacks(kStackBytes, 4 * std::max(1u, options.threads)),
      idle(options.max_idle_per_host, options.idle_keep) {
  scheduleSweep();
  reactor_thread = std::thread([this] { reactor.run(); });
}

ClientCore::~ClientCore() {
  stopping = true;
  idle.close();
  // Pending reads and writes fail at once, so coroutines still at work end
  // instead of waiting out their timeouts.
  live.abortAll();
  pool.join();
  work.reset();
  reactor.stop();
  reactor_thread.join();
}

void ClientCore::scheduleSweep() {
  auto every = std::clamp<std::chrono::seconds>(options.idle_keep / 2, std::chrono::seconds(1), std::chrono::seconds(30));
  sweeper.expires_after(every);
  sweeper.async_wait([this](outbound::error_code ec) {
    if (ec || stopping) return;
    idle.sweep();
    scheduleSweep();
  });
}

bool ClientCore::startCoroutine(std::function<void(Suspender&)> f) {
  if (!stacks.ensureOne()) return false;
  asio::spawn(
      asio::any_io_executor(asio::make_strand(pool)), std::allocator_arg, stacks.allocator(),
      [f = std::move(f)](asio::yield_context yield) {
        Suspender s(yield);
        f(s);
      },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          spdlog::error("outbound client coroutine failed: {}", x.what());
        } catch (...) {
          spdlog::error("outbound client coroutine failed");
        }
      });
  return true;
}

Result<Route> ClientCore::routeFor(const Url& url) const {
  Route r{url, std::nullopt};
  const auto& p = options.proxy;
  const std::string& proxy = url.tls() ? p.https_proxy : p.http_proxy;
  if (proxy.empty() || noProxyMatches(p.no_proxy, url.host, url.port)) return r;
  // The proxy URL may carry a password: messages never quote it.
  auto parsed = parseProxyUrl(proxy);
  if (!parsed) return unavailable(r.describe() + ": the configured proxy URL is invalid");
  if (parsed->tls()) return unavailable(r.describe() + ": only http:// proxies are supported");
  r.proxy = std::move(*parsed);
  return r;
}

Result<std::unique_ptr<ResponseImpl>> ClientCore::exchange(const Route& r, const std::string& request, bool head,
                                                           Suspender& s, Suspender* owner,
                                                           std::optional<Clock::time_point> deadline,
                                                           bool& connect_failed) {
  connect_failed = false;
  for (int attempt = 0;; ++attempt) {
    outbound::ConnectionPtr c = attempt == 0 ? idle.take(r.key()) : nullptr;
    bool reused = c != nullptr;
    if (!c) {
      auto made = outbound::connect(r, s, env());
      if (!made) {
        connect_failed = true;
        return unexpected(made.error());
      }
      c = std::move(*made);
    }
    // One deadline from the request's first byte to the header's last: a
    // server trickling its header a byte at a time must not hold the
    // request for hours with each read within the timeout.
    auto header_deadline = Clock::now() + options.timeout;
    if (deadline) header_deadline = std::min(header_deadline, *deadline);
    outbound::error_code ec;
    outbound::writeAll(*c, s, request, header_deadline, ec);
    bool received = false;
    std::unique_ptr<ResponseParser> parser;
    if (!ec) ec = readResponseHeader(*c, parser, head, s, header_deadline, received);
    if (!ec) return std::make_unique<ResponseImpl>(*this, r, std::move(c), std::move(parser), owner, deadline);
    // A kept-alive connection the server had closed (or closes as the
    // request arrives) answers nothing: the request goes again, once, on a
    // fresh connection. A timeout is not that.
    if (reused && !received && !c->expired && attempt == 0 && !stopping) continue;
    return unavailable(r.describe() + ": " + headerError(ec));
  }
}

Result<ClientResponsePtr> ClientCore::send(const ClientRequest& req, Suspender& s, Suspender* owner,
                                           SendFailure& failure) {
  failure = SendFailure::Exchange;
  auto first = parseUrl(req.url);
  if (!first) return unavailable("invalid upstream URL");
  std::optional<Clock::time_point> deadline;
  if (req.whole_response_timeout.count() > 0) deadline = Clock::now() + req.whole_response_timeout;
  Url url = *first;
  std::string body = req.body;
  bool with_authorization = true;
  bool follow = req.method == "GET" || req.method == "HEAD";
  for (unsigned hops = 0;; ++hops) {
    if (stopping) return unavailable("upstream " + url.hostPort() + ": the client is shutting down");
    auto route = routeFor(url);
    if (!route) return unexpected(route.error());
    auto text = requestText(*route, url, Wire{req.method, req.headers, body, with_authorization});
    if (!text) return unexpected(text.error());
    bool connect_failed = false;
    auto res = exchange(*route, *text, req.method == "HEAD", s, owner, deadline, connect_failed);
    if (!res) {
      // Only the upstream itself being out of reach; a redirect target
      // (a CDN) is one answer's business.
      if (connect_failed && url.origin() == first->origin()) failure = SendFailure::Connect;
      return unexpected(res.error());
    }
    ResponseImpl& r = **res;
    r.url = url.str();
    if (!follow || !isRedirect(r.status) || hops >= req.max_redirects) return ClientResponsePtr(std::move(*res));
    auto next = resolveLocation(url, r.header("location"));
    if (!next) return ClientResponsePtr(std::move(*res));  // nowhere to go: the caller sees the 3xx
    r.drain(s, kRedirectBodyKept);
    // Only GET and HEAD follow, so 303's "use GET" changes nothing (a HEAD
    // stays a HEAD); 307 and 308 keep the body, the others drop it.
    if (r.status != 307 && r.status != 308) body.clear();
    // Credentials are for the first origin only (a CDN must not see them),
    // and stay dropped even if a later hop comes back.
    if (next->origin() != first->origin()) with_authorization = false;
    url = std::move(*next);
  }
}

struct HttpClient::Impl : ClientCore {
  using ClientCore::ClientCore;
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

Result<ClientResponsePtr> HttpClient::send(const ClientRequest& req, Suspender* suspender, SendFailure* failure) {
  SendFailure kind = SendFailure::Exchange;
  Result<ClientResponsePtr> res = unavailable("the outbound client is out of coroutine stacks");
  if (suspender) {
    res = impl_->send(req, *suspender, suspender, kind);
  } else {
    std::function<Result<ClientResponsePtr>(Suspender&)> run = [&](Suspender& s) {
      return impl_->send(req, s, nullptr, kind);
    };
    res = impl_->onPool(run, std::move(res));
  }
  if (failure) *failure = res ? SendFailure::None : kind;
  return res;
}

bool HttpClient::spawn(std::function<void(Suspender&)> task) {
  bool started = impl_->startCoroutine([task = std::move(task)](Suspender& s) {
    try {
      task(s);
    } catch (const std::exception& e) {
      spdlog::error("background task failed: {}", e.what());
    }
  });
  if (!started) spdlog::error("cannot map a coroutine stack for a background task; the task did not run");
  return started;
}

void HttpClient::post(std::function<void()> task) { asio::post(impl_->pool, std::move(task)); }

void HttpClient::shutdown() {
  impl_->stopping = true;
  impl_->idle.close();
  impl_->live.abortAll();
}

const ClientOptions& HttpClient::options() const { return impl_->options; }

}  // namespace berth::http

#include "repo/remote/upstream.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "http/client_url.h"
#include "repo/remote/challenge.h"
#include "observe/metrics.h"

namespace berth::repo::remote {
namespace {

using Clock = std::chrono::steady_clock;

// How long a dead upstream is not asked again.
constexpr auto kDownBackoff = std::chrono::seconds(10);
// Token answers are small; anything larger is not a token.
constexpr std::size_t kMaxTokenResponse = 64 * 1024;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

// "https://host:port/prefix" -> "host:port"
std::string hostOf(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::string percentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
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

Upstream::Upstream(const config::Remote& settings, std::shared_ptr<http::HttpClient> client)
    : settings_(settings), client_(std::move(client)), base_(settings.url) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  host_ = hostOf(base_);
  // By the parsed URL: the host lower-cased, a default port (":443") as good as none.
  if (auto u = http::parseUrl(base_); u && u->port == (u->tls() ? 443 : 80)) {
    const std::string& h = u->host;
    docker_hub_ = h == "registry-1.docker.io" || h == "index.docker.io" || h == "docker.io" ||
                  h == "registry.hub.docker.com";
  }
}

std::string Upstream::upstreamName(const std::string& name) const {
  if (docker_hub_ && name.find('/') == std::string::npos) return "library/" + name;
  return name;
}

std::string Upstream::basicCredentials() const {
  return "Basic " + auth::base64Encode(settings_.username + ":" + settings_.password);
}

Status Upstream::checkBackoff() const {
  if (nowMs() < down_until_ms_.load(std::memory_order_relaxed))
    return fail(ErrorCode::Unavailable, "upstream " + host_ + " is unreachable (retrying shortly)");
  return {};
}

void Upstream::markDown() {
  down_until_ms_.store(nowMs() + std::chrono::duration_cast<std::chrono::milliseconds>(kDownBackoff).count(),
                       std::memory_order_relaxed);
}

Result<http::ClientResponsePtr> Upstream::send(const std::string& method, const std::string& url,
                                               const Headers& headers, const std::string& scope,
                                               http::Suspender* suspender, std::string* sent_token) {
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.headers = headers;
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(scope); it != tokens_.end() && Clock::now() < it->second.good_until) {
      req.headers.emplace_back("Authorization", "Bearer " + it->second.value);
      if (sent_token) *sent_token = it->second.value;
    } else if (basic_ && !settings_.username.empty())
      req.headers.emplace_back("Authorization", basicCredentials());
  }
  http::SendFailure failure = http::SendFailure::None;
  auto started = Clock::now();
  auto res = client_->send(req, suspender, &failure);
  observe::metrics().upstreamLatency(std::chrono::duration<double>(Clock::now() - started).count());
  if (!res || (*res)->status == 429 || (*res)->status >= 500) observe::metrics().upstreamError();
  if (!res) {
    spdlog::warn("upstream {} {} failed: {}", method, url, res.error().message);
    // Only a host out of reach is down for everyone. One path answering
    // garbage (or nothing) is that request's failure: a hostile or broken
    // path must not stop every other image's pulls.
    if (failure == http::SendFailure::Connect) {
      markDown();
      return fail(ErrorCode::Unavailable, "upstream " + host_ + " is unreachable", res.error().message);
    }
    return fail(ErrorCode::Unavailable, "upstream " + host_ + " sent no usable answer", res.error().message);
  }
  return res;
}

Result<http::ClientResponsePtr> Upstream::request(const std::string& method, const std::string& name,
                                                  const std::string& suffix, const Headers& headers,
                                                  http::Suspender* suspender) {
  if (auto st = checkBackoff(); !st) return tl::unexpected(st.error());
  std::string uname = upstreamName(name);
  std::string url = base_ + "/v2/" + uname + "/" + suffix;
  std::string scope = "repository:" + uname + ":pull";
  std::string sent_token;
  auto res = send(method, url, headers, scope, suspender, &sent_token);
  if (!res || (*res)->status != 401) return res;
  // Unauthorized: answer the challenge, then try once more. Requests refused
  // at once share one token request per scope, and one refused after another
  // already renewed the token uses that: a cold start or an expiry costs the
  // token service one request, not one per client.
  auto renewed = token_flights_.run(scope, Call{suspender, {}}, [&]() -> Result<bool> {
    {
      std::lock_guard lock(mu_);
      auto it = tokens_.find(scope);
      if (it != tokens_.end() && it->second.value != sent_token && Clock::now() < it->second.good_until)
        return true;
      tokens_.erase(scope);  // expired or revoked upstream
    }
    if (auto st = authenticate(**res, scope, suspender); !st) return tl::unexpected(st.error());
    return true;
  });
  if (!renewed) return tl::unexpected(renewed.error());
  return send(method, url, headers, scope, suspender);
}

Status Upstream::authenticate(const http::ClientResponse& res, const std::string& scope,
                              http::Suspender* suspender) {
  auto challenge = parseChallenge(res.header("WWW-Authenticate"));
  if (!challenge)
    return fail(ErrorCode::Unavailable, "upstream " + host_ + " refused access without a readable challenge");
  if (challenge->scheme == "basic") {
    if (settings_.username.empty())
      return fail(ErrorCode::Unavailable, "upstream " + host_ + " requires credentials and none are configured");
    std::lock_guard lock(mu_);
    basic_ = true;
    return {};
  }
  if (challenge->scheme != "bearer")
    return fail(ErrorCode::Unavailable, "upstream " + host_ + " asks for an unsupported authentication scheme",
                challenge->scheme);
  std::string realm = challenge->param("realm");
  if (realm.rfind("http://", 0) != 0 && realm.rfind("https://", 0) != 0)
    return fail(ErrorCode::Unavailable, "upstream " + host_ + " sent an unusable token realm");
  // Credentials given for an https upstream never travel in clear text.
  if (!settings_.username.empty() && base_.rfind("https://", 0) == 0 && realm.rfind("https://", 0) != 0)
    return fail(ErrorCode::Unavailable,
                "upstream " + host_ + " names a plain-http token realm: the credentials are not sent there");
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  bool first = true;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    url += (first ? "" : "&") + std::string(k) + "=" + percentEncode(v);
    first = false;
  };
  add("service", challenge->param("service"));
  // The challenge's scope is what the upstream wants; ours when it names none.
  std::string wanted = challenge->param("scope");
  add("scope", wanted.empty() ? scope : wanted);
  http::ClientRequest req;
  req.url = url;
  // A token is small: all of it, not only each read, within the timeout.
  req.whole_response_timeout = client_->options().timeout;
  if (!settings_.username.empty()) req.headers.emplace_back("Authorization", basicCredentials());
  http::SendFailure failure = http::SendFailure::None;
  auto tr = client_->send(req, suspender, &failure);
  if (!tr) {
    bool unreachable = failure == http::SendFailure::Connect;
    if (unreachable) markDown();  // no token, no request gets through
    return fail(ErrorCode::Unavailable,
                "the token service of upstream " + host_ + (unreachable ? " is unreachable" : " sent no usable answer"),
                tr.error().message);
  }
  if ((*tr)->status != 200)
    return fail(ErrorCode::Unavailable, "the token service of upstream " + host_ + " refused a token (status " +
                                            std::to_string((*tr)->status) + ")");
  auto body = (*tr)->readAll(kMaxTokenResponse);
  if (!body) return tl::unexpected(body.error());
  auto json = nlohmann::json::parse(*body, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return fail(ErrorCode::Unavailable, "the token service of upstream " + host_ + " sent no token");
  std::string token;
  if (auto t = json.find("token"); t != json.end() && t->is_string()) token = t->get<std::string>();
  if (auto t = json.find("access_token"); token.empty() && t != json.end() && t->is_string())
    token = t->get<std::string>();
  if (token.empty()) return fail(ErrorCode::Unavailable, "the token service of upstream " + host_ + " sent no token");
  // The spec: expires_in defaults to 60 and anything shorter counts as 60.
  int64_t expires_in = 60;
  if (auto e = json.find("expires_in"); e != json.end() && e->is_number_integer()) expires_in = e->get<int64_t>();
  // Renewed at least daily, whatever it claims (and no clock overflow).
  expires_in = std::clamp<int64_t>(expires_in, 60, 86400);
  // Renewed a little before it expires, so it does not lapse on the way.
  auto good_for = std::chrono::seconds(expires_in - std::min<int64_t>(expires_in / 10, 30));
  std::lock_guard lock(mu_);
  tokens_[scope] = Token{std::move(token), Clock::now() + good_for};
  return {};
}

Result<http::ClientResponsePtr> Upstream::fetchUrl(const std::string& url, http::Suspender* suspender) {
  http::ClientRequest req;
  req.url = url;
  auto res = client_->send(req, suspender);
  if (!res) return fail(ErrorCode::Unavailable, "foreign layer host " + hostOf(url) + " is unreachable",
                        res.error().message);
  return res;
}

Error Upstream::errorFor(const http::ClientResponse& res, ErrorCode unknown, const std::string& what) const {
  int s = res.status;
  if (s == 404 || s == 401 || s == 403) {
    // Docker Hub answers 401 for an image that does not exist (or is private).
    std::string msg = what + " unknown to upstream " + host_;
    if (s != 404) msg += " (or the upstream denied access)";
    return Error{unknown, msg, {}};
  }
  if (s == 429) {
    std::string retry = res.header("Retry-After");
    if (retry.empty() || retry.find_first_not_of("0123456789") != std::string::npos) retry = "60";
    return Error{ErrorCode::TooManyRequests, "upstream " + host_ + " is rate-limiting requests", retry};
  }
  return Error{ErrorCode::Unavailable,
               "upstream " + host_ + " answered " + std::to_string(s) + " for " + what, {}};
}

}  // namespace berth::repo::remote

// Docker token authentication: the Bearer challenge, the token endpoint
// (GET with Basic or anonymous; OAuth2 POST with password or refresh_token)
// and /v2/auth, which answers a docker config.json snippet.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <ctime>

#include "api/handlers.h"
#include "auth/jwt.h"
#include "auth/security_service.h"
#include "core/json_input.h"
#include "observe/metrics.h"
#include "berth/auth/principal.h"

namespace berth::api {
namespace {

std::string hostOf(const http::HttpRequest& req) {
  std::string host(req.header("host"));
  bool safe = !host.empty() && host.size() < 256;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != ':' && c != '-' && c != '[' && c != ']')
      safe = false;
  return safe ? host : "localhost";
}

std::string rfc3339(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string externalBase(const http::HttpRequest& req) {
  // X-Forwarded-Proto counts only from a trusted proxy (http/forwarded.h): from
  // anyone else it would let a client point the token realm elsewhere.
  std::string scheme = !req.forwarded_proto.empty() ? req.forwarded_proto : req.secure ? "https" : "http";
  return scheme + "://" + hostOf(req);
}

std::string bearerChallenge(const Context& c) {
  const auto& req = c.req();
  std::string out = "Bearer realm=\"" + externalBase(req) + c.route.family + "/token\",service=\"" + hostOf(req) + "\"";
  std::string scope;
  if (!c.route.image.empty()) {
    const auto& m = req.method;
    std::string actions = (m == "GET" || m == "HEAD") ? "pull" : m == "DELETE" ? "delete" : "pull,push";
    scope = "repository:" + c.route.clientName() + ":" + actions;
  } else if (c.route.kind == RouteKind::Catalog || c.route.kind == RouteKind::RepoCatalog) {
    scope = "registry:catalog:*";
  }
  if (!scope.empty()) out += ",scope=\"" + scope + "\"";
  return out;
}

Status handleToken(Context& c) {
  if (!c.security) return fail(ErrorCode::NameUnknown, "token authentication is not enabled on this registry");
  const auto& req = c.req();
  std::vector<std::string> scopes;
  std::string service = req.queryValue("service");
  bool offline = req.queryValue("offline_token") == "true";
  Result<auth::Principal> principal = auth::Principal{};
  bool password_grant = false;
  if (req.method == "POST") {
    auto body = c.ex.readBody(64 * 1024, Error{ErrorCode::BadRequest, "request body too large", {}});
    if (!body) return tl::unexpected(body.error());
    auto form = http::parseQuery(*body);
    auto field = [&](const char* k) {
      for (const auto& [key, v] : form)
        if (key == k) return v;
      return std::string();
    };
    std::string grant = field("grant_type");
    service = field("service");
    scopes = split(field("scope"), ' ');
    offline = field("access_type") == "offline";
    if (grant == "password") {
      password_grant = true;
      principal = c.security->authenticateBasic(field("username"), field("password"), req.client);
    } else if (grant == "refresh_token") {
      principal = c.security->authenticateRefresh(field("refresh_token"));
      offline = true;
    } else {
      return fail(ErrorCode::BadRequest, "unsupported_grant_type", grant);
    }
  } else if (req.method == "GET") {
    for (const auto& [k, v] : req.query)
      if (k == "scope")
        for (auto& s : split(v, ' ')) scopes.push_back(s);
    principal = c.who();
  } else {
    return unsupported(c);
  }
  if (!principal) {
    // The OAuth2 form is checked here, not by the access controller: log its failures the same way.
    if (req.method == "POST") {
      spdlog::warn("auth failure from {}: {} {}: {}", req.client, req.method, req.path, principal.error().detail);
      observe::metrics().authFailure(principal.error().code == ErrorCode::TooManyRequests ? observe::AuthFailure::Throttled
                                     : password_grant                                     ? observe::AuthFailure::BadCredentials
                                                                                          : observe::AuthFailure::BadToken);
    }
    return tl::unexpected(principal.error());
  }
  // A Bearer token is good only for its scope: exchanging it here would turn
  // a pull token for one image into anything its user may do, refresh tokens included.
  if (principal->credential == auth::Credential::BearerToken)
    return fail(ErrorCode::Unauthorized, "authentication required",
                "a Bearer token cannot be exchanged for another token; send Basic credentials");
  // Both end up in the token's JSON claims, which must be UTF-8.
  bool text_ok = json_input::validUtf8(service);
  for (const auto& s : scopes) text_ok = text_ok && json_input::validUtf8(s);
  if (!text_ok) return fail(ErrorCode::BadRequest, "service and scope must be UTF-8 text");
  if (principal->anonymous() && !c.security->settings()->anonymous_access)
    return fail(ErrorCode::Unauthorized, "authentication required", "anonymous access is disabled");
  auto issued = c.security->issueToken(*principal, scopes, service, c.route.repo_key, offline);
  nlohmann::json body{{"token", issued.token}, {"access_token", issued.token},
                      {"expires_in", issued.expires_in}, {"issued_at", rfc3339(issued.issued_at)}};
  if (!issued.refresh_token.empty()) body["refresh_token"] = issued.refresh_token;
  auto res = jsonResponse(200, body.dump());
  res.set("Cache-Control", "no-store");
  c.ex.respond(std::move(res));
  return {};
}

Status handleAuthConfig(Context& c) {
  if (c.req().method != "GET") return unsupported(c);
  std::string_view h = c.req().header("authorization");
  if (!c.security || h.size() < 7 || !(h.starts_with("Basic ") || h.starts_with("basic ")))
    return fail(ErrorCode::Unauthorized, "basic credentials required");
  const auto& p = c.who();
  if (!p) return tl::unexpected(p.error());
  std::string host = hostOf(c.req());
  // The credentials the caller just proved, in the form docker's config.json keeps them.
  nlohmann::json body{{"auths", {{host, {{"auth", std::string(h.substr(6))}}}}}};
  auto res = jsonResponse(200, body.dump(2));
  res.set("Cache-Control", "no-store");
  c.ex.respond(std::move(res));
  return {};
}

}  // namespace berth::api

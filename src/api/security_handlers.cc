// The security REST API (admin only, except access tokens for oneself):
//   /api/security/{users,groups,permissions}[/<name>]   GET, PUT, DELETE
//   /api/security/token                                  POST (create), GET (list)
//   /api/security/token/<id>                             DELETE (revoke)
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "api/handlers.h"
#include "auth/model_json.h"
#include "core/json_input.h"
#include "auth/security_service.h"
#include "berth/auth/principal.h"

namespace berth::api {
namespace {

using nlohmann::json;

Status respondJson(Context& c, int status, const json& body) {
  c.ex.respond(jsonResponse(status, body.dump(2)));
  return {};
}

Status respondNoContent(Context& c) {
  http::HttpResponse res;
  res.status = 204;
  c.ex.respond(std::move(res));
  return {};
}

Result<json> jsonBody(Context& c) {
  auto body = c.ex.readBody(1024 * 1024, Error{ErrorCode::BadRequest, "request body too large", {}});
  if (!body) return tl::unexpected(body.error());
  return json_input::parse(*body, ErrorCode::BadRequest);
}

// One collection (users, groups or permissions) with the same verbs.
template <class T, class List, class Get, class Parse, class Put, class Del>
Status collection(Context& c, const std::string& name, List list, Get get, Parse parse, Put put, Del del) {
  const auto& m = c.req().method;
  if (name.empty()) {
    if (m != "GET") return unsupported(c);
    json all = json::array();
    for (const auto& item : list()) all.push_back(auth::toJson(item, false));
    return respondJson(c, 200, all);
  }
  if (m == "GET") {
    auto item = get(name);
    if (!item) return tl::unexpected(item.error());
    return respondJson(c, 200, auth::toJson(*item, false));
  }
  if (m == "DELETE") {
    if (auto st = del(name); !st) return st;
    return respondNoContent(c);
  }
  if (m != "PUT") return unsupported(c);
  auto body = jsonBody(c);
  if (!body) return tl::unexpected(body.error());
  auto item = parse(*body, name);
  if (!item) return tl::unexpected(item.error());
  bool existed = static_cast<bool>(get(name));
  if (auto st = put(*item, *body); !st) return st;
  return respondJson(c, existed ? 200 : 201, auth::toJson(*get(name), false));
}

Status tokens(Context& c, const auth::Principal& p, const std::string& id) {
  auto& sec = *c.security;
  const auto& m = c.req().method;
  if (!id.empty()) {
    if (m != "DELETE") return unsupported(c);
    if (auto st = sec.revokeAccessToken(id, p); !st) return st;
    return respondNoContent(c);
  }
  if (m == "GET") {
    json all = json::array();
    for (const auto& t : sec.accessTokens(sec.isAdmin(p) ? "" : p.name)) all.push_back(auth::toJson(t, false));
    return respondJson(c, 200, {{"tokens", all}});
  }
  if (m != "POST") return unsupported(c);
  json body = json::object();
  if (c.req().header("content-type").starts_with("application/json")) {
    auto j = jsonBody(c);
    if (!j) return tl::unexpected(j.error());
    body = *j;
  } else {  // Artifactory's form: username=&scope=&expires_in=&description=
    auto raw = c.ex.readBody(64 * 1024, Error{ErrorCode::BadRequest, "request body too large", {}});
    if (!raw) return tl::unexpected(raw.error());
    for (const auto& [k, v] : http::parseQuery(*raw)) {
      // A JSON body is UTF-8 by construction; a form's fields are any bytes.
      if (!json_input::validUtf8(k) || !json_input::validUtf8(v))
        return fail(ErrorCode::BadRequest, "form fields must be UTF-8 text");
      body[k] = v;
    }
  }
  // Every field is type-checked: a wrong type is a 400 naming the field,
  // never an exception (500) and never silently ignored.
  json_input::Fields f(body, ErrorCode::BadRequest);
  auth::AccessToken t;
  t.user = f.string("username").value_or(p.name);
  t.repositories = f.strings("repositories").value_or(std::vector<std::string>{});
  if (const json* actions = f.array("actions"))
    for (const auto& a : *actions) {
      auto act = a.is_string() ? auth::parseAction(a.get<std::string>()) : std::nullopt;
      if (!act) {
        f.reject("actions", "a list of action names (read, annotate, deploy, delete, manage)");
        break;
      }
      t.actions.insert(*act);
    }
  int64_t expires_in = 0;
  if (body.contains("expires_in") && body["expires_in"].is_string()) {  // the form sends text
    const std::string text = body["expires_in"].get<std::string>();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) f.reject("expires_in", "a number of seconds");
    expires_in = v;
  } else {
    expires_in = f.integer("expires_in").value_or(0);
  }
  constexpr int64_t kMaxExpiresIn = int64_t{100} * 366 * 24 * 3600;  // keeps now + expires_in in range
  if (expires_in < 0 || expires_in > kMaxExpiresIn)
    f.reject("expires_in", "a number of seconds between 0 (never expires) and 100 years");
  t.description = f.string("description").value_or("");
  if (auto st = f.status(); !st) return st;
  if (t.user != p.name && !sec.isAdmin(p))
    return fail(ErrorCode::Denied, "only an administrator may create tokens for another user", t.user);
  if (expires_in > 0) t.expires = static_cast<int64_t>(std::time(nullptr)) + expires_in;
  auto created = sec.createAccessToken(t);
  if (!created) return tl::unexpected(created.error());
  json out{{"token_id", created->record.id}, {"access_token", created->secret}, {"token_type", "Bearer"},
           {"expires_in", expires_in}, {"username", t.user}};
  return respondJson(c, 200, out);
}

}  // namespace

Status handleSecurity(Context& c) {
  if (!c.security) return fail(ErrorCode::NameUnknown, "security is not enabled on this registry");
  const auto& p = c.who();
  if (!p) return tl::unexpected(p.error());
  if (p->anonymous()) return fail(ErrorCode::Unauthorized, "authentication required", "log in to use the security API");
  // A Bearer token is good only for the scope it was issued for: a pull token
  // of an administrator is not an administrator's login.
  if (p->credential == auth::Credential::BearerToken && !p->bearer_registry.count("security"))
    return fail(ErrorCode::Unauthorized, "authentication required",
                "this Bearer token is not for the security API; send Basic credentials");
  // An access token is for pushing and pulling: it can neither mint tokens
  // (a narrowed one would widen itself) nor administer.
  if (p->via_access_token)
    return fail(ErrorCode::Denied, "access tokens cannot use the security API", "log in with a password");
  std::string tail = c.route.tail;
  auto slash = tail.find('/');
  std::string kind = tail.substr(0, slash), name = slash == std::string::npos ? "" : tail.substr(slash + 1);
  if (kind == "token") return tokens(c, *p, name);
  if (!c.security->isAdmin(*p)) return fail(ErrorCode::Denied, "administrators only");
  auto& s = *c.security;
  if (kind == "users")
    return collection<auth::User>(
        c, name, [&] { return s.users(); }, [&](const std::string& n) { return s.user(n); },
        [](const json& j, const std::string& n) {
          auto u = auth::userFromJson(j, n);
          if (u) u->uid.clear();  // identities are the server's to assign, never the client's
          return u;
        },
        [&](const auth::User& u, const json& j) -> Status {
          json_input::Fields f(j, ErrorCode::BadRequest);
          auto password = f.string("password");
          if (auto st = f.status(); !st) return st;
          return s.putUser(u, password.value_or(""));
        },
        [&](const std::string& n) { return s.deleteUser(n); });
  if (kind == "groups")
    return collection<auth::Group>(
        c, name, [&] { return s.groups(); }, [&](const std::string& n) { return s.group(n); },
        [](const json& j, const std::string& n) { return auth::groupFromJson(j, n); },
        [&](const auth::Group& g, const json&) { return s.putGroup(g); },
        [&](const std::string& n) { return s.deleteGroup(n); });
  if (kind == "permissions")
    return collection<auth::Permission>(
        c, name, [&] { return s.permissions(); }, [&](const std::string& n) { return s.permission(n); },
        [](const json& j, const std::string& n) { return auth::permissionFromJson(j, n); },
        [&](const auth::Permission& perm, const json&) { return s.putPermission(perm); },
        [&](const std::string& n) { return s.deletePermission(n); });
  return fail(ErrorCode::NotFound, "no such security resource", kind);
}

}  // namespace berth::api

// The security REST API (admin only, except access tokens for oneself):
//   /api/security/{users,groups,permissions}[/<name>]   GET, PUT, DELETE
//   /api/security/token                                  POST (create), GET (list)
//   /api/security/token/<id>                             DELETE (revoke)
#include <nlohmann/json.hpp>

#include <ctime>

#include "api/handlers.h"
#include "auth/model_json.h"
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
  auto j = json::parse(*body, nullptr, false);
  if (j.is_discarded()) return fail(ErrorCode::BadRequest, "request body is not JSON");
  return j;
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
    for (const auto& [k, v] : http::parseQuery(*raw)) body[k] = v;
  }
  auth::AccessToken t;
  t.user = body.value("username", p.name);
  if (t.user != p.name && !sec.isAdmin(p))
    return fail(ErrorCode::Denied, "only an administrator may create tokens for another user", t.user);
  if (body.contains("repositories") && body["repositories"].is_array())
    t.repositories = body["repositories"].get<std::vector<std::string>>();
  if (body.contains("actions") && body["actions"].is_array())
    for (const auto& a : body["actions"]) {
      auto act = a.is_string() ? auth::parseAction(a.get<std::string>()) : std::nullopt;
      if (!act) return fail(ErrorCode::BadRequest, "unknown action", a.dump());
      t.actions.insert(*act);
    }
  int64_t expires_in = 0;
  if (body.contains("expires_in")) {
    const auto& e = body["expires_in"];
    expires_in = e.is_number_integer() ? e.get<int64_t>() : e.is_string() ? std::atoll(e.get<std::string>().c_str()) : -1;
    if (expires_in < 0) return fail(ErrorCode::BadRequest, "expires_in must be a non-negative number of seconds");
  }
  if (expires_in > 0) t.expires = static_cast<int64_t>(std::time(nullptr)) + expires_in;
  t.description = body.value("description", "");
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
        [](const json& j, const std::string& n) { return auth::userFromJson(j, n); },
        [&](const auth::User& u, const json& j) { return s.putUser(u, j.value("password", "")); },
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

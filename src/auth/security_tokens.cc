// SecurityService: Bearer JWTs and refresh tokens, issued and checked. A token
// names the user's uid and credential epoch: it dies when the user is deleted
// (re-created users get a new uid), disabled, or has the password changed. A
// token minted with an access token names it too and dies with it.
#include <ctime>
#include <sstream>

#include "auth/jwt.h"
#include "auth/security_service.h"
#include "storage/file_util.h"

namespace berth::auth {
namespace {

constexpr int64_t kRefreshTokenSeconds = 30 * 24 * 3600;

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

tl::unexpected<Error> unauthorized(const std::string& detail) {
  return fail(ErrorCode::Unauthorized, "authentication required", detail);
}

// Docker action names for a Berth action.
std::set<std::string> dockerActions(const std::set<std::string>& asked, bool read, bool deploy, bool del) {
  std::set<std::string> out;
  for (const auto& a : asked) {
    if (a == "pull" && read) out.insert(a);
    if (a == "push" && deploy) out.insert(a);
    if (a == "delete" && del) out.insert(a);
    if (a == "*" && read && deploy && del) out.insert(a);
  }
  return out;
}

// The user a token names, if it is still the same user in the same epoch.
const User* tokenUser(const PermissionModel& m, const nlohmann::json& claims) {
  auto it = m.users.find(claims.value("sub", ""));
  if (it == m.users.end() || it->second.disabled) return nullptr;
  const auto& uid = claims.find("uid");
  const auto& ep = claims.find("ep");
  if (uid == claims.end() || !uid->is_string() || uid->get<std::string>() != it->second.uid) return nullptr;
  // Tokens from before epochs existed carry none: they are of epoch 0.
  int64_t epoch = ep != claims.end() && ep->is_number_integer() ? ep->get<int64_t>() : 0;
  return epoch == it->second.epoch ? &it->second : nullptr;
}

}  // namespace

Result<Principal> SecurityService::authenticateBearer(const std::string& token, const std::string& client) {
  if (token.starts_with(kAccessTokenPrefix)) {
    // An access token sent as a Bearer token, as its token_type says.
    auto tok = findAccessToken(token, now());
    if (!tok) return unauthorized("unknown access token");
    return authenticateBasic(tok->user, token, client);
  }
  auto claims = verifyJwt(token, signing_key_, now());
  if (!claims) return tl::unexpected(claims.error());
  if (claims->value("typ", "") != "access") return unauthorized("not an access token");
  auto m = snapshot();
  const User* u = nullptr;
  if (claims->value("sub", "") != kAnonymous) {
    u = tokenUser(*m, *claims);
    if (!u) return unauthorized("the token's user no longer exists, is disabled or changed its password");
  }
  Principal p = bearerPrincipal(*claims, u);
  if (p.via_access_token) {
    // Minted with an access token: only as long as that token lives.
    auto tid = claims->value("tid", "");
    std::shared_lock lock(model_mu_);
    auto it = tokens_.find(tid);
    if (tid.empty() || it == tokens_.end() || it->second.user != p.name ||
        (it->second.expires != 0 && it->second.expires <= now()))
      return unauthorized("the access token this token was issued for is revoked or expired");
    p.access_token_id = tid;
  }
  return p;
}

Principal SecurityService::bearerPrincipal(const nlohmann::json& claims, const User* u) const {
  Principal p;
  if (u) p = principalFor(*snapshot(), *u);
  p.credential = Credential::BearerToken;
  p.via_access_token = claims.value("via_token", false);
  if (claims.contains("scope_repositories") && claims["scope_repositories"].is_array())
    for (const auto& r : claims["scope_repositories"])
      if (r.is_string()) p.token_repositories.push_back(r.get<std::string>());
  if (claims.contains("scope_actions") && claims["scope_actions"].is_array())
    for (const auto& a : claims["scope_actions"])
      if (auto act = a.is_string() ? parseAction(a.get<std::string>()) : std::nullopt) p.token_actions.insert(*act);
  std::vector<std::pair<std::string, std::set<std::string>>> access;
  if (claims.contains("access") && claims["access"].is_array())
    for (const auto& a : claims["access"]) {
      if (!a.is_object() || !a.contains("actions") || !a["actions"].is_array()) continue;
      std::set<std::string> actions;
      for (const auto& x : a["actions"])
        if (x.is_string()) actions.insert(x.get<std::string>());
      if (a.value("type", "") == "repository") access.emplace_back(a.value("name", ""), std::move(actions));
      else if (a.value("type", "") == "registry" && actions.count("*")) p.bearer_registry.insert(a.value("name", ""));
    }
  p.bearer_access = std::move(access);
  return p;
}

Result<Principal> SecurityService::authenticateRefresh(const std::string& token) {
  auto claims = verifyJwt(token, signing_key_, now());
  if (!claims) return tl::unexpected(claims.error());
  if (claims->value("typ", "") != "refresh") return unauthorized("not a refresh token");
  auto m = snapshot();
  const User* u = tokenUser(*m, *claims);
  if (!u) return unauthorized("the token's user no longer exists, is disabled or changed its password");
  Principal p = principalFor(*m, *u);
  p.credential = Credential::RefreshToken;
  return p;
}

IssuedToken SecurityService::issueToken(const Principal& p, const std::vector<std::string>& scopes,
                                        const std::string& service, const std::string& repo_key, bool offline) {
  nlohmann::json access = nlohmann::json::array();
  for (const auto& scope : scopes) {
    // <type>:<name>:<a,b>  (the name may itself contain ':' only in a port, never here)
    auto first = scope.find(':'), last = scope.rfind(':');
    if (first == std::string::npos || last == first) continue;
    std::string type = scope.substr(0, first), name = scope.substr(first + 1, last - first - 1);
    std::set<std::string> asked;
    std::stringstream ss(scope.substr(last + 1));
    for (std::string a; std::getline(ss, a, ',');) asked.insert(a);
    if (type == "registry") {
      // The catalogs list only what the caller may read; the security API
      // checks its caller again, but is only for a password login: a token
      // from a refresh or access token must not become an administrator's.
      bool grant = asked.count("*") &&
                   ((name == "catalog" && mayReadSomething(p)) ||
                    (name == "security" && p.credential == Credential::Password && !p.anonymous()));
      if (name == "catalog" || name == "security")
        access.push_back({{"type", "registry"}, {"name", name},
                          {"actions", grant ? nlohmann::json::array({"*"}) : nlohmann::json::array()}});
      continue;
    }
    if (type != "repository") continue;
    std::string key = repo_key, image = name;
    if (key.empty()) {
      auto slash = name.find('/');
      if (slash == std::string::npos) continue;  // no repository key: nothing to grant
      key = name.substr(0, slash);
      image = name.substr(slash + 1);
    }
    auto granted = dockerActions(asked, isAllowed(p, key, image, Action::Read), isAllowed(p, key, image, Action::Deploy),
                                 isAllowed(p, key, image, Action::Delete));
    access.push_back({{"type", "repository"}, {"name", key + "/" + image}, {"actions", granted}});
  }
  int64_t t = now();
  nlohmann::json claims{{"iss", "berth"}, {"sub", p.name}, {"aud", service}, {"iat", t}, {"nbf", t - 1},
                        {"exp", t + settings()->token_expiry_seconds}, {"jti", storage::randomHex16()},
                        {"typ", "access"}, {"access", access}, {"uid", p.uid}, {"ep", p.epoch}};
  if (p.via_access_token) {
    claims["via_token"] = true;
    claims["tid"] = p.access_token_id;
  }
  if (!p.token_repositories.empty()) claims["scope_repositories"] = p.token_repositories;
  if (!p.token_actions.empty()) {
    claims["scope_actions"] = nlohmann::json::array();
    for (Action a : p.token_actions) claims["scope_actions"].push_back(actionName(a));
  }
  IssuedToken out{signJwt(claims, signing_key_), settings()->token_expiry_seconds, t, {}};
  // A refresh token is a password's worth: only a password (or refresh) login gets one.
  bool may_refresh = p.credential == Credential::Password || p.credential == Credential::RefreshToken;
  if (offline && !p.anonymous() && !p.via_access_token && may_refresh) {
    nlohmann::json refresh{{"iss", "berth"}, {"sub", p.name}, {"iat", t}, {"exp", t + kRefreshTokenSeconds},
                           {"jti", storage::randomHex16()}, {"typ", "refresh"}, {"uid", p.uid}, {"ep", p.epoch}};
    out.refresh_token = signJwt(refresh, signing_key_);
  }
  return out;
}

}  // namespace berth::auth

#include "auth/security_service.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "auth/jwt.h"
#include "auth/model_json.h"
#include "auth/password.h"
#include "berth/core/sha256.h"
#include "storage/file_util.h"

namespace berth::auth {
namespace {

constexpr int64_t kCredentialCacheSeconds = 300;
constexpr int64_t kRefreshTokenSeconds = 30 * 24 * 3600;
constexpr const char* kTokenPrefix = "berth_";

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

tl::unexpected<Error> unauthorized(const std::string& detail) {
  return fail(ErrorCode::Unauthorized, "authentication required", detail);
}

// Writes a secret file readable by the owner only.
void writeSecretFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    throw std::runtime_error("cannot write " + path);
  ::fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
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

}  // namespace

SecurityService::SecurityService(const config::Config& cfg, std::shared_ptr<SecurityStore> store)
    : settings_(cfg.security), store_(std::move(store)), throttle_(cfg.security.failed_logins_before_delay) {
  auto model = std::make_shared<PermissionModel>();
  model->anonymous_access = settings_.anonymous_access;
  for (const auto& r : cfg.repositories) model->repo_types[r.key] = r.type;
  auto load = [&](const char* kind, auto&& apply) {
    auto rows = store_->all(kind);
    if (!rows) throw std::runtime_error(rows.error().message);
    for (const auto& [name, doc] : *rows) apply(name, nlohmann::json::parse(doc, nullptr, false));
  };
  load("user", [&](const std::string& n, const nlohmann::json& j) {
    if (auto u = userFromJson(j, n)) model->users[n] = *u;
  });
  load("group", [&](const std::string& n, const nlohmann::json& j) {
    if (auto g = groupFromJson(j, n)) model->groups[n] = *g;
  });
  load("permission", [&](const std::string& n, const nlohmann::json& j) {
    if (auto p = permissionFromJson(j, n)) model->permissions[n] = *p;
  });
  load("token", [&](const std::string& n, const nlohmann::json& j) {
    if (auto t = tokenFromJson(j)) tokens_[n] = *t;
  });
  // The config is authoritative for what it names.
  for (auto u : settings_.users) {
    auto old = model->users.find(u.name);
    u.uid = old != model->users.end() && !old->second.uid.empty() ? old->second.uid : storage::randomHex16();
    model->users[u.name] = u;
    (void)store_->put("user", u.name, toJson(u, true).dump());
  }
  for (const auto& g : settings_.groups) {
    model->groups[g.name] = g;
    (void)store_->put("group", g.name, toJson(g).dump());
  }
  for (const auto& p : settings_.permissions) {
    model->permissions[p.name] = p;
    (void)store_->put("permission", p.name, toJson(p).dump());
  }
  model_ = model;
  loadSigningKey(cfg.storage.root);
  ensureAdmin(cfg.storage.root);
}

void SecurityService::loadSigningKey(const std::string& root) {
  std::string path = root + "/token-signing.key";
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    if (!base64Decode(ss.str(), signing_key_) || signing_key_.size() < 32)
      throw std::runtime_error(path + " is damaged; delete it to make a new key (issued tokens become invalid)");
    return;
  }
  signing_key_ = storage::randomHex16() + storage::randomHex16();
  writeSecretFile(path, base64Encode(signing_key_));
}

void SecurityService::ensureAdmin(const std::string& root) {
  auto m = snapshot();
  for (const auto& [name, u] : m->users)
    if (isAdmin(principalFor(*m, u))) return;
  User admin{"admin", {}, {}, true, {}};
  std::string password = randomPassword(20);
  admin.password_hash = hashPassword(password);
  if (auto st = putUser(admin, ""); !st) throw std::runtime_error(st.error().message);
  std::string path = root + "/initial-admin-password";
  writeSecretFile(path, password + "\n");
  // Written once, as the first-start contract says; never logged again.
  spdlog::warn("created the initial administrator 'admin' with password {} (also in {})", password, path);
}

std::shared_ptr<const PermissionModel> SecurityService::snapshot() const {
  std::shared_lock lock(model_mu_);
  return model_;
}

Status SecurityService::mutate(const std::function<Status(PermissionModel&)>& change) {
  std::unique_lock lock(model_mu_);
  auto next = std::make_shared<PermissionModel>(*model_);
  if (auto st = change(*next); !st) return st;
  model_ = std::move(next);
  lock.unlock();
  forgetCredentials();
  return {};
}

void SecurityService::forgetCredentials() {
  std::lock_guard lock(cache_mu_);
  credential_cache_.clear();
}

Principal SecurityService::principalFor(const PermissionModel&, const User& u) const {
  Principal p;
  p.name = u.name;
  p.groups = u.groups;
  p.admin = u.admin;
  p.uid = u.uid;
  return p;
}

bool SecurityService::isAdmin(const Principal& p) const {
  auto m = snapshot();
  if (p.admin) return true;
  for (const auto& g : p.groups)
    if (auto it = m->groups.find(g); it != m->groups.end() && it->second.admin) return true;
  return false;
}

Result<Principal> SecurityService::authenticateBasic(const std::string& user, const std::string& secret,
                                                     const std::string& remote) {
  std::string host = addressHost(remote);
  int64_t t = now();
  if (auto wait = throttle_.waitSeconds(host, t); wait > 0)
    return fail(ErrorCode::TooManyRequests, "too many failed logins from this address; retry later",
                std::to_string(wait));  // seconds: the API sends it as Retry-After
  auto m = snapshot();
  auto it = m->users.find(user);
  if (user.empty() || secret.empty() || it == m->users.end()) {
    throttle_.failed(host, t);
    return unauthorized("invalid username or password");
  }
  Principal p = principalFor(*m, it->second);
  std::string cache_key = Sha256::of(user + '\0' + secret).str();
  {
    std::lock_guard lock(cache_mu_);
    if (auto c = credential_cache_.find(cache_key); c != credential_cache_.end() && c->second.second > t &&
                                                    !secret.starts_with(kTokenPrefix))
      return p;
  }
  if (secret.starts_with(kTokenPrefix)) {
    std::string hash = Sha256::of(secret).str();
    std::shared_lock lock(model_mu_);
    for (const auto& [id, tok] : tokens_) {
      if (tok.user != user || tok.secret_hash != hash) continue;
      if (tok.expires != 0 && tok.expires <= t) break;
      p.token_repositories = tok.repositories;
      p.token_actions = tok.actions;
      p.via_access_token = true;
      throttle_.succeeded(host);
      return p;
    }
  } else if (verifyPassword(secret, it->second.password_hash)) {
    std::lock_guard lock(cache_mu_);
    if (credential_cache_.size() > 10000) credential_cache_.clear();
    credential_cache_[cache_key] = {user, t + kCredentialCacheSeconds};
    throttle_.succeeded(host);
    return p;
  }
  throttle_.failed(host, t);
  return unauthorized("invalid username or password");
}

Result<Principal> SecurityService::authenticateBearer(const std::string& token) {
  if (token.starts_with(kTokenPrefix)) {
    // An access token sent as a Bearer token, as its token_type says.
    std::string user;
    {
      std::string hash = Sha256::of(token).str();
      std::shared_lock lock(model_mu_);
      for (const auto& [id, t] : tokens_)
        if (t.secret_hash == hash) user = t.user;
    }
    if (user.empty()) return unauthorized("unknown access token");
    return authenticateBasic(user, token, "bearer");
  }
  auto claims = verifyJwt(token, signing_key_, now());
  if (!claims) return tl::unexpected(claims.error());
  if (claims->value("typ", "") != "access") return unauthorized("not an access token");
  auto m = snapshot();
  std::string sub = claims->value("sub", "");
  Principal p;
  if (sub != kAnonymous) {
    auto it = m->users.find(sub);
    if (it == m->users.end() || claims->value("uid", "") != it->second.uid)
      return unauthorized("the token's user no longer exists");
    p = principalFor(*m, it->second);
  }
  p.via_access_token = claims->value("via_token", false);
  if (claims->contains("scope_repositories") && (*claims)["scope_repositories"].is_array())
    for (const auto& r : (*claims)["scope_repositories"])
      if (r.is_string()) p.token_repositories.push_back(r.get<std::string>());
  if (claims->contains("scope_actions") && (*claims)["scope_actions"].is_array())
    for (const auto& a : (*claims)["scope_actions"])
      if (auto act = a.is_string() ? parseAction(a.get<std::string>()) : std::nullopt) p.token_actions.insert(*act);
  std::vector<std::pair<std::string, std::set<std::string>>> access;
  if (claims->contains("access") && (*claims)["access"].is_array())
    for (const auto& a : (*claims)["access"])
      if (a.is_object() && a.value("type", "") == "repository" && a.contains("actions") && a["actions"].is_array())
        access.emplace_back(a.value("name", ""), a["actions"].get<std::set<std::string>>());
  p.bearer_access = std::move(access);
  return p;
}

Result<Principal> SecurityService::authenticateRefresh(const std::string& token) {
  auto claims = verifyJwt(token, signing_key_, now());
  if (!claims) return tl::unexpected(claims.error());
  if (claims->value("typ", "") != "refresh") return unauthorized("not a refresh token");
  auto m = snapshot();
  auto it = m->users.find(claims->value("sub", ""));
  if (it == m->users.end() || claims->value("uid", "") != it->second.uid)
    return unauthorized("the token's user no longer exists");
  return principalFor(*m, it->second);
}

IssuedToken SecurityService::issueToken(const Principal& p, const std::vector<std::string>& scopes,
                                        const std::string& service, const std::string& repo_key, bool offline) {
  nlohmann::json access = nlohmann::json::array();
  for (const auto& scope : scopes) {
    // repository:<name>:<a,b>  (the name may itself contain ':' only in a port, never here)
    auto first = scope.find(':'), last = scope.rfind(':');
    if (first == std::string::npos || last == first || scope.substr(0, first) != "repository") continue;
    std::string name = scope.substr(first + 1, last - first - 1);
    std::set<std::string> asked;
    std::stringstream ss(scope.substr(last + 1));
    for (std::string a; std::getline(ss, a, ',');) asked.insert(a);
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
                        {"exp", t + settings_.token_expiry_seconds}, {"jti", storage::randomHex16()},
                        {"typ", "access"}, {"access", access}, {"uid", p.uid}};
  if (p.via_access_token) claims["via_token"] = true;
  if (!p.token_repositories.empty()) claims["scope_repositories"] = p.token_repositories;
  if (!p.token_actions.empty()) {
    claims["scope_actions"] = nlohmann::json::array();
    for (Action a : p.token_actions) claims["scope_actions"].push_back(actionName(a));
  }
  IssuedToken out{signJwt(claims, signing_key_), settings_.token_expiry_seconds, t, {}};
  if (offline && !p.anonymous() && !p.via_access_token) {
    nlohmann::json refresh{{"iss", "berth"}, {"sub", p.name}, {"iat", t}, {"exp", t + kRefreshTokenSeconds},
                           {"jti", storage::randomHex16()}, {"typ", "refresh"}, {"uid", p.uid}};
    out.refresh_token = signJwt(refresh, signing_key_);
  }
  return out;
}

bool SecurityService::isAllowed(const Principal& p, const std::string& repo_key, const std::string& image,
                                Action a) const {
  return auth::isAllowed(*snapshot(), p, repo_key, image, a);
}

bool SecurityService::mayReadSomething(const Principal& p) const { return auth::mayReadSomething(*snapshot(), p); }

}  // namespace berth::auth

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

}  // namespace

SecurityService::SecurityService(const config::Config& cfg, std::shared_ptr<SecurityStore> store,
                                 PasswordVerifier verify)
    : settings_(std::make_shared<const config::Security>(cfg.security)),
      store_(std::move(store)),
      throttle_(cfg.security.failed_logins_before_delay),
      verify_(std::move(verify)),
      dummy_hash_(hashPassword(randomPassword(24))) {
  auto model = std::make_shared<PermissionModel>();
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
  applyEntries(*model, cfg);
  model_ = model;
  loadSigningKey(cfg.storage.root);
  ensureAdmin(cfg.storage.root);
}

void SecurityService::applyEntries(PermissionModel& model, const config::Config& cfg) {
  model.anonymous_access = cfg.security.anonymous_access;
  model.repo_types.clear();
  model.deployment_of.clear();
  for (const auto& r : cfg.repositories) {
    model.repo_types[r.key] = r.type;
    if (r.type == config::RepoType::Virtual && !r.virt.default_deployment_repo.empty())
      model.deployment_of[r.key] = r.virt.default_deployment_repo;
  }
  // The config is authoritative for what it names.
  for (auto u : cfg.security.users) {
    auto old = model.users.find(u.name);
    const User* before = old != model.users.end() ? &old->second : nullptr;
    u.uid = before && !before->uid.empty() ? before->uid : storage::randomHex16();
    // A password changed in the config (or through the API before this start) ends old sessions.
    u.epoch = nextEpoch(before, u);
    model.users[u.name] = u;
    (void)store_->put("user", u.name, toJson(u, true).dump());
  }
  for (const auto& g : cfg.security.groups) {
    model.groups[g.name] = g;
    (void)store_->put("group", g.name, toJson(g).dump());
  }
  for (const auto& p : cfg.security.permissions) {
    model.permissions[p.name] = p;
    (void)store_->put("permission", p.name, toJson(p).dump());
  }
}

void SecurityService::applyConfig(const config::Config& cfg) {
  auto next = std::make_shared<const config::Security>(cfg.security);
  (void)mutate([&](PermissionModel& m) -> Status {
    applyEntries(m, cfg);
    settings_ = next;  // under the write lock of the model it goes with
    return {};
  });
}

std::shared_ptr<const config::Security> SecurityService::settings() const {
  std::shared_lock lock(model_mu_);
  return settings_;
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

int64_t SecurityService::nextEpoch(const User* old, const User& u) {
  if (!old) return 0;
  bool changed = old->password_hash != u.password_hash || (u.disabled && !old->disabled);
  return old->epoch + (changed ? 1 : 0);
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
  p.epoch = u.epoch;
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
                                                     const std::string& client) {
  int64_t t = now();
  auto m = snapshot();
  auto it = m->users.find(user);
  const User* u = it == m->users.end() || it->second.disabled ? nullptr : &it->second;
  if (secret.starts_with(kAccessTokenPrefix)) {
    // A 128-bit random secret: its SHA-256 is the lookup key, no bcrypt needed.
    if (auto tok = findAccessToken(secret, t); tok && u && tok->user == user) {
      Principal p = principalFor(*m, *u);
      p.credential = Credential::AccessToken;
      p.token_repositories = tok->repositories;
      p.token_actions = tok->actions;
      p.via_access_token = true;
      p.access_token_id = tok->id;
      return p;
    }
  } else if (!secret.empty()) {
    std::string cache_key = Sha256::of(user + '\0' + secret).str();
    if (u) {
      std::lock_guard lock(cache_mu_);
      auto c = credential_cache_.find(cache_key);
      if (c != credential_cache_.end() && c->second.expiry > t && c->second.uid == u->uid &&
          c->second.epoch == u->epoch) {
        Principal p = principalFor(*m, *u);
        p.credential = Credential::Password;
        return p;
      }
    }
    bool real = u && !u->password_hash.empty();
    const std::string& hash = real ? u->password_hash : dummy_hash_;
    bool ok = false;
    if (throttle_.overLimit(user, client, t)) {
      std::lock_guard lane(penalty_mu_);
      ok = verify_(secret, hash);
    } else {
      ok = verify_(secret, hash);
    }
    if (ok && real) {
      {
        std::lock_guard lock(cache_mu_);
        if (credential_cache_.size() > 10000) credential_cache_.clear();
        // Stamped with the uid and epoch it was checked against: a password
        // change racing with this check cannot leave the old one cached.
        credential_cache_[cache_key] = {u->uid, u->epoch, t + kCredentialCacheSeconds};
      }
      throttle_.succeeded(user, client);
      Principal p = principalFor(*m, *u);
      p.credential = Credential::Password;
      return p;
    }
  }
  if (int64_t wait = throttle_.failed(user, client, t); wait > 0)
    return fail(ErrorCode::TooManyRequests, "too many failed logins for this user from this address; retry later",
                std::to_string(wait));  // seconds: the API sends it as Retry-After
  return unauthorized("invalid username or password");
}

std::optional<AccessToken> SecurityService::findAccessToken(const std::string& secret, int64_t t) const {
  std::string hash = Sha256::of(secret).str();
  std::shared_lock lock(model_mu_);
  for (const auto& [id, tok] : tokens_) {
    if (tok.secret_hash != hash) continue;
    if (tok.expires != 0 && tok.expires <= t) return std::nullopt;
    return tok;
  }
  return std::nullopt;
}

bool SecurityService::isAllowed(const Principal& p, const std::string& repo_key, const std::string& image,
                                Action a) const {
  return auth::isAllowed(*snapshot(), p, repo_key, image, a);
}

bool SecurityService::mayReadSomething(const Principal& p) const { return auth::mayReadSomething(*snapshot(), p); }

}  // namespace berth::auth

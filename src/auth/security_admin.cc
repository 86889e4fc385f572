// SecurityService: the REST API's operations on users, groups, permissions
// and access tokens. Each change is persisted first, then published.
#include <ctime>

#include "auth/model_json.h"
#include "auth/password.h"
#include "auth/security_service.h"
#include "berth/core/sha256.h"
#include "storage/file_util.h"

namespace berth::auth {
namespace {
tl::unexpected<Error> notFound(const std::string& what, const std::string& name) {
  return fail(ErrorCode::NotFound, what + " not found", name);
}
tl::unexpected<Error> badRequest(const std::string& detail) {
  return fail(ErrorCode::BadRequest, "invalid request", detail);
}
bool validName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != '@') return false;
  return true;
}
template <class M>
auto values(const M& m) {
  std::vector<typename M::mapped_type> out;
  for (const auto& [k, v] : m) out.push_back(v);
  return out;
}
template <class T>
Result<T> lookup(const std::map<std::string, T>& m, const std::string& name, const char* what) {
  auto it = m.find(name);
  if (it == m.end()) return notFound(what, name);
  return it->second;
}
// Removes `name` from the store (as `kind`) and from the model's map.
template <class T>
Status erase(SecurityStore& store, std::map<std::string, T>& m, const char* kind, const std::string& name) {
  if (!m.count(name)) return notFound(kind, name);
  if (auto st = store.remove(kind, name); !st) return st;
  m.erase(name);
  return {};
}
}  // namespace

std::vector<User> SecurityService::users() const { return values(snapshot()->users); }

Result<User> SecurityService::user(const std::string& name) const { return lookup(snapshot()->users, name, "user"); }

Status SecurityService::putUser(User u, const std::string& plain_password) {
  if (!validName(u.name) || u.name == kAnonymous) return badRequest("invalid user name '" + u.name + "'");
  if (!plain_password.empty()) {
    if (auto why = passwordProblem(plain_password); !why.empty()) return badRequest(why);
    u.password_hash = hashPassword(plain_password);
  }
  if (!u.password_hash.empty())
    if (auto why = bcryptHashProblem(u.password_hash); !why.empty()) return badRequest(why);
  return mutate([&](PermissionModel& m) -> Status {
    auto it = m.users.find(u.name);
    const User* old = it != m.users.end() ? &it->second : nullptr;
    u.uid.clear();  // neither uid nor epoch come from the caller
    if (old) {
      if (u.password_hash.empty()) u.password_hash = old->password_hash;
      u.uid = old->uid;
    }
    if (u.uid.empty()) u.uid = storage::randomHex16();
    // A new password or disabling ends every session made before (tokens
    // carry the epoch; cached password checks are dropped by mutate()).
    u.epoch = nextEpoch(old, u);
    if (auto st = store_->put("user", u.name, toJson(u, true).dump()); !st) return st;
    m.users[u.name] = u;
    return {};
  });
}

Status SecurityService::deleteUser(const std::string& name) {
  return mutate([&](PermissionModel& m) -> Status {
    if (auto st = erase(*store_, m.users, "user", name); !st) return st;
    // The user's access tokens go with it (tokens_ is guarded by model_mu_, held here).
    for (auto t = tokens_.begin(); t != tokens_.end();) {
      if (t->second.user != name) {
        ++t;
        continue;
      }
      (void)store_->remove("token", t->first);
      t = tokens_.erase(t);
    }
    return {};
  });
}

std::vector<Group> SecurityService::groups() const { return values(snapshot()->groups); }

Result<Group> SecurityService::group(const std::string& name) const {
  return lookup(snapshot()->groups, name, "group");
}

Status SecurityService::putGroup(Group g) {
  if (!validName(g.name)) return badRequest("invalid group name '" + g.name + "'");
  return mutate([&](PermissionModel& m) -> Status {
    if (auto st = store_->put("group", g.name, toJson(g).dump()); !st) return st;
    m.groups[g.name] = g;
    return {};
  });
}

Status SecurityService::deleteGroup(const std::string& name) {
  return mutate([&](PermissionModel& m) { return erase(*store_, m.groups, "group", name); });
}

std::vector<Permission> SecurityService::permissions() const { return values(snapshot()->permissions); }

Result<Permission> SecurityService::permission(const std::string& name) const {
  return lookup(snapshot()->permissions, name, "permission");
}

Status SecurityService::putPermission(Permission p) {
  if (!validName(p.name)) return badRequest("invalid permission name '" + p.name + "'");
  return mutate([&](PermissionModel& m) -> Status {
    for (const auto& r : p.repositories)
      if (r != "ANY" && r != "ANY LOCAL" && r != "ANY REMOTE" && r != "ANY VIRTUAL" && !m.repo_types.count(r))
        return badRequest("unknown repository '" + r + "'");
    if (auto st = store_->put("permission", p.name, toJson(p).dump()); !st) return st;
    m.permissions[p.name] = p;
    return {};
  });
}

Status SecurityService::deletePermission(const std::string& name) {
  return mutate([&](PermissionModel& m) { return erase(*store_, m.permissions, "permission", name); });
}

Result<NewAccessToken> SecurityService::createAccessToken(AccessToken t) {
  NewAccessToken out;
  out.secret = kAccessTokenPrefix + storage::randomHex16() + storage::randomHex16();
  t.id = storage::randomHex16();
  t.secret_hash = Sha256::of(out.secret).str();
  t.created = static_cast<int64_t>(std::time(nullptr));
  auto st = mutate([&](PermissionModel& m) -> Status {
    if (!m.users.count(t.user)) return notFound("user", t.user);
    if (auto s = store_->put("token", t.id, toJson(t, true).dump()); !s) return s;
    tokens_[t.id] = t;  // under model_mu_, held by mutate
    return {};
  });
  if (!st) return tl::unexpected(st.error());
  out.record = t;
  return out;
}

std::vector<AccessToken> SecurityService::accessTokens(const std::string& user) const {
  std::shared_lock lock(model_mu_);
  std::vector<AccessToken> out;
  for (const auto& [id, t] : tokens_)
    if (user.empty() || t.user == user) out.push_back(t);
  return out;
}

Status SecurityService::revokeAccessToken(const std::string& id, const Principal& by) {
  bool admin = isAdmin(by);
  return mutate([&](PermissionModel&) -> Status {
    auto it = tokens_.find(id);
    if (it == tokens_.end() || (!admin && it->second.user != by.name)) return notFound("token", id);
    if (auto st = store_->remove("token", id); !st) return st;
    tokens_.erase(it);
    return {};
  });
}

}  // namespace berth::auth

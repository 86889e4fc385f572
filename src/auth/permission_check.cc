#include "auth/permission_check.h"

#include <algorithm>

namespace berth::auth {
namespace {

bool repoMatches(const PermissionModel& m, const Permission& perm, const std::string& key) {
  auto type = m.repo_types.find(key);
  for (const auto& r : perm.repositories) {
    if (r == key || r == "ANY") return true;
    if (type == m.repo_types.end()) continue;
    if ((r == "ANY LOCAL" && type->second == config::RepoType::Local) ||
        (r == "ANY REMOTE" && type->second == config::RepoType::Remote) ||
        (r == "ANY VIRTUAL" && type->second == config::RepoType::Virtual))
      return true;
  }
  return false;
}

bool imageMatches(const Permission& perm, const std::string& image) {
  // A registry-wide question ("may read anything in this repository") passes the patterns.
  if (image.empty()) return true;
  bool included = std::any_of(perm.include.begin(), perm.include.end(), [&](auto& p) { return matchPattern(p, image); });
  bool excluded = std::any_of(perm.exclude.begin(), perm.exclude.end(), [&](auto& p) { return matchPattern(p, image); });
  return included && !excluded;
}

bool isAdmin(const PermissionModel& m, const Principal& p) {
  if (p.admin) return true;
  for (const auto& g : p.groups)
    if (auto it = m.groups.find(g); it != m.groups.end() && it->second.admin) return true;
  return false;
}

bool grantedBy(const Permission& perm, const Principal& p, Action action) {
  if (auto it = perm.users.find(p.name); it != perm.users.end() && grants(it->second, action)) return true;
  for (const auto& g : p.groups)
    if (auto it = perm.groups.find(g); it != perm.groups.end() && grants(it->second, action)) return true;
  return false;
}

}  // namespace

bool isAllowed(const PermissionModel& m, const Principal& p, const std::string& repo_key, const std::string& image,
               Action action) {
  if (p.anonymous() && !m.anonymous_access) return false;
  if (!p.token_repositories.empty() &&
      std::find(p.token_repositories.begin(), p.token_repositories.end(), repo_key) == p.token_repositories.end())
    return false;
  if (!p.token_actions.empty() && !grants(p.token_actions, action)) return false;
  if (isAdmin(m, p)) return true;
  const std::string* key = &repo_key;
  if (action == Action::Deploy || action == Action::Delete)
    if (auto d = m.deployment_of.find(repo_key); d != m.deployment_of.end()) key = &d->second;
  for (const auto& [name, perm] : m.permissions)
    if (repoMatches(m, perm, *key) && imageMatches(perm, image) && grantedBy(perm, p, action)) return true;
  return false;
}

bool mayReadSomething(const PermissionModel& m, const Principal& p) {
  if (p.anonymous() && !m.anonymous_access) return false;
  if (isAdmin(m, p)) return true;
  for (const auto& [key, type] : m.repo_types)
    if (isAllowed(m, p, key, "", Action::Read)) return true;
  return false;
}

}  // namespace berth::auth

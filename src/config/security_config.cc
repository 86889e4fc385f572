#include "config/security_config.h"

namespace berth::config {
namespace {

std::set<auth::Action> readActions(const YAML::Node& n, const std::string& origin, const std::string& where) {
  if (!n.IsSequence()) bad(origin, where + " must be a list of actions");
  std::set<auth::Action> out;
  for (const auto& a : n) {
    auto action = auth::parseAction(a.as<std::string>());
    if (!action) bad(origin, where + ": unknown action '" + a.as<std::string>() + "' (read, annotate, deploy, delete, manage)");
    out.insert(*action);
  }
  return out;
}

std::map<std::string, std::set<auth::Action>> readGrants(const YAML::Node& n, const std::string& origin,
                                                         const std::string& where) {
  std::map<std::string, std::set<auth::Action>> out;
  if (!n) return out;
  if (!n.IsMap()) bad(origin, where + " must map names to action lists");
  for (const auto& kv : n) {
    auto name = kv.first.as<std::string>();
    out[name] = readActions(kv.second, origin, where + "." + name);
  }
  return out;
}

}  // namespace

void readSecurity(const YAML::Node& s, Security& out, const std::string& origin) {
  if (!s) return;
  out.enabled = true;
  if (s.IsNull()) return;
  checkKnownKeys(s, {"anonymous_access", "force_authentication", "token", "users", "groups", "permissions",
                     "failed_logins_before_delay"}, origin, "security");
  read(s, "anonymous_access", out.anonymous_access, origin, "security");
  read(s, "failed_logins_before_delay", out.failed_logins_before_delay, origin, "security");
  if (auto f = s["force_authentication"]) {
    if (f.IsSequence())
      out.force_authentication_repos = f.as<std::vector<std::string>>();
    else
      read(s, "force_authentication", out.force_authentication_all, origin, "security");
  }
  if (auto t = s["token"]) {
    checkKnownKeys(t, {"expiry_seconds"}, origin, "security.token");
    read(t, "expiry_seconds", out.token_expiry_seconds, origin, "security.token");
  }
  if (auto users = s["users"]) {
    if (!users.IsSequence()) bad(origin, "security.users must be a list");
    for (std::size_t i = 0; i < users.size(); ++i) {
      std::string where = "security.users[" + std::to_string(i) + "]";
      checkKnownKeys(users[i], {"name", "password_hash", "groups", "admin", "disabled"}, origin, where);
      auth::User u;
      read(users[i], "name", u.name, origin, where);
      read(users[i], "password_hash", u.password_hash, origin, where);
      read(users[i], "groups", u.groups, origin, where);
      read(users[i], "admin", u.admin, origin, where);
      read(users[i], "disabled", u.disabled, origin, where);
      out.users.push_back(std::move(u));
    }
  }
  if (auto groups = s["groups"]) {
    if (!groups.IsSequence()) bad(origin, "security.groups must be a list");
    for (std::size_t i = 0; i < groups.size(); ++i) {
      std::string where = "security.groups[" + std::to_string(i) + "]";
      checkKnownKeys(groups[i], {"name", "description", "admin"}, origin, where);
      auth::Group g;
      read(groups[i], "name", g.name, origin, where);
      read(groups[i], "description", g.description, origin, where);
      read(groups[i], "admin", g.admin, origin, where);
      out.groups.push_back(std::move(g));
    }
  }
  if (auto perms = s["permissions"]) {
    if (!perms.IsSequence()) bad(origin, "security.permissions must be a list");
    for (std::size_t i = 0; i < perms.size(); ++i) carryOn([&] {
      std::string where = "security.permissions[" + std::to_string(i) + "]";
      checkKnownKeys(perms[i], {"name", "repositories", "include", "exclude", "users", "groups"}, origin, where);
      auth::Permission p;
      read(perms[i], "name", p.name, origin, where);
      read(perms[i], "repositories", p.repositories, origin, where);
      read(perms[i], "include", p.include, origin, where);
      read(perms[i], "exclude", p.exclude, origin, where);
      p.users = readGrants(perms[i]["users"], origin, where + ".users");
      p.groups = readGrants(perms[i]["groups"], origin, where + ".groups");
      out.permissions.push_back(std::move(p));
    });
  }
}

void validateSecurity(const Config& c, const std::string& origin) {
  const auto& s = c.security;
  std::set<std::string> keys;
  for (const auto& r : c.repositories) keys.insert(r.key);
  std::set<std::string> names;
  for (const auto& u : s.users) {
    if (u.name.empty()) report(origin, "security.users: a user has no name");
    if (u.name == auth::kAnonymous) report(origin, "security.users: 'anonymous' is built in and cannot be defined");
    if (!names.insert(u.name).second) report(origin, "security.users: '" + u.name + "' is defined twice");
    if (!u.password_hash.empty() && !u.password_hash.starts_with("$2"))
      report(origin, "security.users: '" + u.name + "' password_hash must be a bcrypt hash ($2y$/$2b$, e.g. htpasswd -nbB)");
  }
  for (const auto& p : s.permissions) {
    if (p.name.empty()) report(origin, "security.permissions: a permission has no name");
    for (const auto& r : p.repositories)
      if (r != "ANY" && r != "ANY LOCAL" && r != "ANY REMOTE" && r != "ANY VIRTUAL" && !keys.count(r))
        report(origin, "security.permissions '" + p.name + "': unknown repository '" + r + "'");
  }
  for (const auto& r : s.force_authentication_repos)
    if (!keys.count(r)) report(origin, "security.force_authentication: unknown repository '" + r + "'");
}

}  // namespace berth::config

// Who may do what: users, groups, permission targets and access tokens, as
// plain values. The same values come from the config file and from the REST
// API (/api/security/...), and are persisted in the metadata database.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/auth/access_controller.h"

namespace berth::auth {

inline constexpr const char* kAnonymous = "anonymous";

struct User {
  std::string name;
  std::string password_hash;  // crypt(3) bcrypt ($2y$/$2b$); empty = cannot log in with a password
  std::vector<std::string> groups;
  bool admin = false;
  // Random, set when the user is created: tokens name it, so a user deleted
  // and created again under the same name does not inherit old tokens.
  std::string uid;
  // Raised when the password changes or the user is disabled: tokens and
  // cached password checks carry the epoch they were made in and die with it.
  int64_t epoch = 0;
  bool disabled = false;  // may not log in by any means (password, access token, Bearer, refresh)
};

struct Group {
  std::string name;
  std::string description;
  bool admin = false;  // members are administrators
};

// A permission target, as Artifactory has them.
struct Permission {
  std::string name;
  std::vector<std::string> repositories;  // keys, or "ANY", "ANY LOCAL", "ANY REMOTE", "ANY VIRTUAL"
  std::vector<std::string> include{"**"}; // image-name patterns: *, **, ?
  std::vector<std::string> exclude;
  std::map<std::string, std::set<Action>> users;
  std::map<std::string, std::set<Action>> groups;
};

// A long-lived token for CI (a robot account's password).
struct AccessToken {
  std::string id;
  std::string user;
  std::string secret_hash;                // sha256 of the secret; the secret itself is never stored
  std::vector<std::string> repositories;  // narrower scope: only these keys (empty = all the user may)
  std::set<Action> actions;               // narrower scope: only these actions (empty = all)
  int64_t created = 0;
  int64_t expires = 0;                    // unix seconds; 0 = never
  std::string description;
};

// "read" -> Action::Read ...; nullopt for an unknown name.
std::optional<Action> parseAction(const std::string& name);
std::string actionName(Action a);
// Artifactory's ladder: manage > delete > deploy > annotate > read; holding
// one grants those below it.
bool grants(const std::set<Action>& held, Action wanted);

// Glob over image names: '*' within a path component, '**' across, '?' one char.
bool matchPattern(const std::string& pattern, const std::string& name);

}  // namespace berth::auth

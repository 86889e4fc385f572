// Who is making a request, once credentials have been checked.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/auth/model.h"

namespace berth::auth {

// How the caller proved who it is. A Bearer token proves only what its scope
// names; the token endpoint and the security API look at this.
enum class Credential {
  None,          // anonymous: no Authorization header
  Password,      // Basic with the user's password (or the OAuth2 password grant)
  AccessToken,   // an access token (berth_...), as Basic password or Bearer
  BearerToken,   // a JWT from the token endpoint
  RefreshToken,  // an OAuth2 refresh token (token endpoint only)
};

struct Principal {
  std::string name = kAnonymous;
  std::vector<std::string> groups;
  bool admin = false;
  std::string uid;                // the user's uid (see User::uid)
  int64_t epoch = 0;              // the user's credential epoch (see User::epoch)
  Credential credential = Credential::None;
  bool via_access_token = false;  // authenticated with an access token (or a JWT issued for one)
  std::string access_token_id;    // that access token's id
  bool anonymous() const { return name == kAnonymous; }
  // Set when authenticated with an access token: its narrower scope.
  std::vector<std::string> token_repositories;  // empty = no narrowing
  std::set<Action> token_actions;               // empty = no narrowing
  // Set when authenticated with a Bearer JWT: the repository scopes it grants
  // ("<name>" -> docker actions such as pull, push, delete, *).
  std::optional<std::vector<std::pair<std::string, std::set<std::string>>>> bearer_access;
  // Registry-wide resources the Bearer JWT's scope names ("registry:<name>:*"):
  // "catalog" for the catalogs, "security" for the security API.
  std::set<std::string> bearer_registry;
};

}  // namespace berth::auth

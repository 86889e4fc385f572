// Who is making a request, once credentials have been checked.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/auth/model.h"

namespace berth::auth {

struct Principal {
  std::string name = kAnonymous;
  std::vector<std::string> groups;
  bool admin = false;
  std::string uid;                // the user's uid (see User::uid)
  bool via_access_token = false;  // authenticated with an access token (or a JWT issued for one)
  bool anonymous() const { return name == kAnonymous; }
  // Set when authenticated with an access token: its narrower scope.
  std::vector<std::string> token_repositories;  // empty = no narrowing
  std::set<Action> token_actions;               // empty = no narrowing
  // Set when authenticated with a Bearer JWT: the repository scopes it grants
  // ("<name>" -> docker actions such as pull, push, delete, *).
  std::optional<std::vector<std::pair<std::string, std::set<std::string>>>> bearer_access;
};

}  // namespace berth::auth

// The permission decision as a pure function over the security model.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "berth/auth/model.h"
#include "berth/auth/principal.h"
#include "berth/config.h"

namespace berth::auth {

struct PermissionModel {
  std::map<std::string, User> users;
  std::map<std::string, Group> groups;
  std::map<std::string, Permission> permissions;
  std::map<std::string, config::RepoType> repo_types;  // key -> type, for "ANY LOCAL" etc.
  // Virtual repository key -> its default deployment repository: pushing or
  // deleting through a virtual repository needs that right on the deployment
  // repository (reading needs it on the virtual one).
  std::map<std::string, std::string> deployment_of;
  bool anonymous_access = true;
};

// Whether `p` may do `action` on `image` of repository `repo_key`.
// Administrators may do everything; anonymous gets nothing when anonymous
// access is off. An access token's narrower scope applies on top.
bool isAllowed(const PermissionModel& m, const Principal& p, const std::string& repo_key, const std::string& image,
               Action action);

// Whether `p` may read anything at all (GET /v2/ answers 200 or a challenge).
bool mayReadSomething(const PermissionModel& m, const Principal& p);

}  // namespace berth::auth

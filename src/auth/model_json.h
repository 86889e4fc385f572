// JSON forms of the security model: the REST API's bodies and the rows
// persisted in the metadata database. Password hashes and token secrets are
// written only when `with_secrets` is true (storage), never to API clients.
#pragma once

#include <nlohmann/json.hpp>

#include "berth/auth/model.h"
#include "berth/core/error.h"

namespace berth::auth {

nlohmann::json toJson(const User& u, bool with_secrets);
nlohmann::json toJson(const Group& g, bool with_secrets = false);
nlohmann::json toJson(const Permission& p, bool with_secrets = false);
nlohmann::json toJson(const AccessToken& t, bool with_secrets);

// BAD_REQUEST with a detail naming the bad field.
Result<User> userFromJson(const nlohmann::json& j, const std::string& name);
Result<Group> groupFromJson(const nlohmann::json& j, const std::string& name);
Result<Permission> permissionFromJson(const nlohmann::json& j, const std::string& name);
Result<AccessToken> tokenFromJson(const nlohmann::json& j);

}  // namespace berth::auth

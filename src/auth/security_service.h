// Identities, credentials and tokens: checks Basic credentials (passwords
// and access tokens), issues and verifies Bearer JWTs, and keeps the model
// (users, groups, permissions, tokens) in memory, persisted through
// SecurityStore. Config-defined entries are written to the store at start.
//
// Thread safety: all methods may be called concurrently; the model is a
// snapshot replaced as a whole on every change.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>

#include "auth/login_throttle.h"
#include "auth/password.h"
#include "auth/permission_check.h"
#include "auth/security_store.h"
#include "berth/auth/principal.h"
#include "berth/config.h"

namespace berth::auth {

// Access tokens' secrets start with this; JWTs never do.
inline constexpr const char* kAccessTokenPrefix = "berth_";

struct IssuedToken {
  std::string token;
  int64_t expires_in = 0;
  int64_t issued_at = 0;
  std::string refresh_token;  // when an offline token was asked for
};

struct NewAccessToken {
  AccessToken record;
  std::string secret;  // shown once
};

class SecurityService {
 public:
  // Loads the store, applies the config, creates the first admin if none
  // exists and the token signing key if missing. Throws on failure (startup).
  // `verify` checks a password against a bcrypt hash (tests count its calls).
  SecurityService(const config::Config& cfg, std::shared_ptr<SecurityStore> store,
                  PasswordVerifier verify = verifyPassword);

  // The security section in force; a reload replaces it (applyConfig).
  std::shared_ptr<const config::Security> settings() const;
  // A reload (docs/operations.md, "Reloading"): the security section and the
  // repositories' types as at start, and the users, groups and permissions
  // the config names written over the stored ones, in one model swap.
  // failed_logins_before_delay keeps its start value (a restart applies it).
  void applyConfig(const config::Config& cfg);

  // Basic credentials: a password or an access token's secret, from the
  // client at `client` (an IP address). UNAUTHORIZED when wrong;
  // TOOMANYREQUESTS (detail: Retry-After seconds) when wrong and this
  // (user, client) pair has used up its free failures. A right password is
  // never refused by the throttle. An unknown user costs the same bcrypt
  // check as a known one, so names cannot be told apart by timing.
  Result<Principal> authenticateBasic(const std::string& user, const std::string& secret, const std::string& client);
  // A Bearer JWT issued by issueToken, or an access token sent as Bearer.
  // UNAUTHORIZED when invalid, expired, or issued before the user's last
  // password change, disabling or re-creation.
  Result<Principal> authenticateBearer(const std::string& token, const std::string& client);
  // A refresh token (OAuth2 grant_type=refresh_token); the same checks.
  Result<Principal> authenticateRefresh(const std::string& token);

  // scopes: "repository:<name>:<actions>" and "registry:catalog:*" as clients
  // send them ("registry:security:*" for the security API, granted only to a
  // password login); the access granted is what was asked intersected with
  // what permissions allow. A refresh token only for a password or refresh login.
  // `repo_key` is set under the Artifactory routes (names are then relative to it).
  IssuedToken issueToken(const Principal& p, const std::vector<std::string>& scopes, const std::string& service,
                         const std::string& repo_key, bool offline);

  bool isAllowed(const Principal& p, const std::string& repo_key, const std::string& image, Action a) const;
  bool mayReadSomething(const Principal& p) const;
  bool isAdmin(const Principal& p) const;

  // REST API. NOT_FOUND / BAD_REQUEST as fitting.
  std::vector<User> users() const;
  Result<User> user(const std::string& name) const;
  Status putUser(User u, const std::string& plain_password);
  Status deleteUser(const std::string& name);
  std::vector<Group> groups() const;
  Result<Group> group(const std::string& name) const;
  Status putGroup(Group g);
  Status deleteGroup(const std::string& name);
  std::vector<Permission> permissions() const;
  Result<Permission> permission(const std::string& name) const;
  Status putPermission(Permission p);
  Status deletePermission(const std::string& name);
  Result<NewAccessToken> createAccessToken(AccessToken t);
  std::vector<AccessToken> accessTokens(const std::string& user_or_empty) const;
  Status revokeAccessToken(const std::string& id, const Principal& by);

 private:
  std::shared_ptr<const PermissionModel> snapshot() const;
  // Applies a change to a copy of the model under the write lock, then publishes it.
  Status mutate(const std::function<Status(PermissionModel&)>& change);
  Principal principalFor(const PermissionModel& m, const User& u) const;
  void ensureAdmin(const std::string& storage_root);
  void loadSigningKey(const std::string& storage_root);
  void forgetCredentials();
  // The epoch `u` gets when it replaces `old` (null: a new user): raised when
  // the password changes or the user is disabled.
  static int64_t nextEpoch(const User* old, const User& u);
  // The access token with this secret, if it is valid for `user` now.
  std::optional<AccessToken> findAccessToken(const std::string& secret, int64_t now) const;
  Principal bearerPrincipal(const nlohmann::json& claims, const User* u) const;

  // The config's entries (anonymous access, repository types, config-defined
  // users, groups and permissions) into `model`, and the store.
  void applyEntries(PermissionModel& model, const config::Config& cfg);

  std::shared_ptr<const config::Security> settings_;  // guarded by model_mu_
  std::shared_ptr<SecurityStore> store_;
  std::string signing_key_;
  LoginThrottle throttle_;
  PasswordVerifier verify_;
  // Compared against when the user is unknown, disabled or has no password,
  // so such a login costs the same bcrypt as a real one.
  std::string dummy_hash_;
  // Password checks for (user, client) pairs over the failure limit run one
  // at a time: guessing from behind a shared address gets one core at most.
  std::mutex penalty_mu_;
  mutable std::shared_mutex model_mu_;
  std::shared_ptr<const PermissionModel> model_;
  std::map<std::string, AccessToken> tokens_;  // guarded by model_mu_
  std::mutex cache_mu_;
  struct CachedCheck {
    std::string uid;
    int64_t epoch = 0;
    int64_t expiry = 0;
  };
  std::map<std::string, CachedCheck> credential_cache_;  // sha256(user, secret) -> the user as it was checked
};

}  // namespace berth::auth

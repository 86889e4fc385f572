#include "api/admin_login.h"

#include "auth/security_service.h"
#include "berth/auth/principal.h"

namespace berth::api {

Status requireAdminLogin(const auth::SecurityService& security, const auth::Principal& p, AdminUse use) {
  if (p.anonymous()) return fail(ErrorCode::Unauthorized, "authentication required", "log in as an administrator");
  if (p.credential == auth::Credential::BearerToken)
    return fail(ErrorCode::Unauthorized, "authentication required", "send an administrator's Basic credentials");
  if (p.via_access_token) {
    bool narrowed = !p.token_repositories.empty() || !p.token_actions.empty();
    if (use == AdminUse::Change || narrowed || p.credential != auth::Credential::AccessToken)
      return fail(ErrorCode::Denied, "this access token cannot use the system API", "log in with a password");
  }
  if (!security.isAdmin(p)) return fail(ErrorCode::Denied, "administrators only");
  return {};
}

}  // namespace berth::api

// The enforcing AccessController: credentials from the Authorization header
// (Basic: password or access token; Bearer: a JWT from the token endpoint),
// then the permission model. Anonymous requests that need identity get
// UNAUTHORIZED (the API adds the Bearer challenge); authenticated ones that
// lack a permission get DENIED.
#pragma once

#include <memory>

#include "auth/security_service.h"
#include "berth/auth/access_controller.h"

namespace berth::auth {

// The message of an UNAUTHORIZED error for a Bearer token that lacks the
// scope: the challenge then carries error="insufficient_scope".
inline constexpr const char* kInsufficientScope = "insufficient scope";

AccessControllerPtr makeEnforcing(std::shared_ptr<SecurityService> security);

}  // namespace berth::auth

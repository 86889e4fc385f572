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

AccessControllerPtr makeEnforcing(std::shared_ptr<SecurityService> security);

}  // namespace berth::auth

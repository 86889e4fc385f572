// Who may use the administrators' system endpoints (garbage collection,
// metrics when metrics.require_permission is set): one rule, in one place.
#pragma once

#include "berth/core/error.h"

namespace berth::auth {
struct Principal;
class SecurityService;
}  // namespace berth::auth

namespace berth::api {

// What the administrator is about to do.
enum class AdminUse {
  Read,    // read-only system data (metrics): a scraper may use a token
  Change,  // act on the registry (garbage collection): a password only
};

// An administrator's own login. Anonymous callers get UNAUTHORIZED, and so
// does a Bearer token: it is good for the registry scopes it was issued for
// only, so even an administrator's pull token is not an administrator's
// login. An access token is for pushing and pulling (DENIED), except that an
// administrator's access token with no narrowing may read (AdminUse::Read),
// so that a scraper need not hold a password. Other users get DENIED.
Status requireAdminLogin(const auth::SecurityService& security, const auth::Principal& p, AdminUse use);

}  // namespace berth::api

// GET|HEAD /metrics: the Prometheus text exposition (observe/metrics.h).
//
// On the main listener it is open to anyone unless metrics.require_permission
// is set: then only administrators may read it (their password or an access token
// with no narrowing; never a Bearer token: api/admin_login.h), others get 401/403. On a listener of its own
// (metrics.listen) it is the only route and is open: that listener's address
// is the control. The series carry no repository keys, image names or users.
#pragma once

#include "berth/auth/access_controller.h"
#include "http/exchange.h"

namespace berth::auth {
class SecurityService;
}

namespace berth::api {

struct MetricsAccess {
  bool require_admin = false;
  auth::AccessController* access = nullptr;   // to identify the caller when require_admin
  auth::SecurityService* security = nullptr;  // null: an open registry, where everyone passes
};

// Answers and returns true when the path is /metrics; false (nothing sent) otherwise.
bool answerMetricsRoute(http::Exchange& ex, const MetricsAccess& who_may);

}  // namespace berth::api

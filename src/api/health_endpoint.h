// The health routes, answered before the registry API and without
// authentication (a load balancer, an orchestrator or `berth healthcheck`
// has no credentials; nothing here names a path or an internal error):
//
//   GET|HEAD /health/live                  200 {"status":"UP"} while the process serves requests
//   GET|HEAD /health/ready                 200 or 503, {"status":"UP"|"DOWN","checks":{...}}
//   GET|HEAD /api/system/ping              200 "OK", or 503 with the first reason (Artifactory's)
//   GET|HEAD /artifactory/api/system/ping  the same
//
// Another method on these paths gets 405 with `Allow: GET, HEAD`.
#pragma once

#include "http/exchange.h"
#include "observe/health.h"

namespace berth::api {

// Answers the request and returns true when its path is a health route;
// false (nothing sent) for any other path.
bool answerHealthRoute(http::Exchange& ex, observe::Health& health);

}  // namespace berth::api

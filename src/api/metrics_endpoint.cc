#include "api/metrics_endpoint.h"

#include "api/admin_login.h"
#include "api/handlers.h"
#include "auth/security_service.h"
#include "observe/metrics.h"

namespace berth::api {

bool answerMetricsRoute(http::Exchange& ex, const MetricsAccess& who_may) {
  if (ex.request().path != "/metrics") return false;
  ex.notes().route = static_cast<int>(observe::RouteLabel::Metrics);
  const std::string& method = ex.request().method;
  if (method != "GET" && method != "HEAD") {
    http::HttpResponse res;
    res.status = 405;
    res.set("Allow", "GET, HEAD");
    res.set("Content-Type", "text/plain; charset=utf-8");
    res.body = "method not allowed\n";
    ex.respond(std::move(res));
    return true;
  }
  if (who_may.require_admin && who_may.security && who_may.access) {
    auto p = who_may.access->identify(ex.request());
    if (p && !p->anonymous()) ex.notes().user = p->name;
    Status allowed = p ? requireAdminLogin(*who_may.security, *p, AdminUse::Read) : Status(tl::unexpected(p.error()));
    if (!allowed) {
      auto res = errorResponse(allowed.error());
      if (allowed.error().code == ErrorCode::Unauthorized) res.set("WWW-Authenticate", "Basic realm=\"Berth\"");
      ex.respond(std::move(res));
      return true;
    }
  }
  http::HttpResponse res;
  res.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  res.set("Cache-Control", "no-store");
  res.body = observe::metrics().render();
  ex.respond(std::move(res));
  return true;
}

}  // namespace berth::api

#include "api/health_endpoint.h"

#include <nlohmann/json.hpp>

namespace berth::api {
namespace {

enum class HealthRoute { None, Live, Ready, Ping };

HealthRoute healthRoute(const std::string& path) {
  if (path == "/health/live") return HealthRoute::Live;
  if (path == "/health/ready") return HealthRoute::Ready;
  if (path == "/api/system/ping" || path == "/artifactory/api/system/ping") return HealthRoute::Ping;
  return HealthRoute::None;
}

http::HttpResponse answer(int status, std::string content_type, std::string body) {
  http::HttpResponse res;
  res.status = status;
  res.set("Content-Type", std::move(content_type));
  // A cached "UP" would hide the next failure from a probe behind a cache.
  res.set("Cache-Control", "no-store");
  res.body = std::move(body);
  return res;
}

}  // namespace

bool answerHealthRoute(http::Exchange& ex, observe::Health& health) {
  HealthRoute route = healthRoute(ex.request().path);
  if (route == HealthRoute::None) return false;
  const std::string& method = ex.request().method;
  if (method != "GET" && method != "HEAD") {
    auto res = answer(405, "text/plain; charset=utf-8", "method not allowed\n");
    res.set("Allow", "GET, HEAD");
    ex.respond(std::move(res));
    return true;
  }
  if (route == HealthRoute::Live) {
    ex.respond(answer(200, "application/json", R"({"status":"UP"})"));
    return true;
  }
  auto checks = health.readiness();
  bool ready = observe::Health::allOk(checks);
  if (route == HealthRoute::Ping) {
    std::string reason = "OK";
    for (const auto& c : checks)
      if (!c.ok) {
        reason = c.reason;
        break;
      }
    ex.respond(answer(ready ? 200 : 503, "text/plain; charset=utf-8", reason));
    return true;
  }
  nlohmann::ordered_json body{{"status", ready ? "UP" : "DOWN"}, {"checks", nlohmann::ordered_json::object()}};
  for (const auto& c : checks) {
    nlohmann::ordered_json entry{{"status", c.ok ? "UP" : "DOWN"}};
    if (!c.ok) entry["reason"] = c.reason;
    body["checks"][c.name] = std::move(entry);
  }
  ex.respond(answer(ready ? 200 : 503, "application/json", body.dump()));
  return true;
}

}  // namespace berth::api

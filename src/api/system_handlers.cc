// Berth's system REST API:
//   POST [/artifactory]/api/system/storage/gc[?dryRun=true]   garbage collection (administrators)
//   POST [/artifactory]/api/system/reload                     reload the config file (administrators)
#include <nlohmann/json.hpp>

#include "api/admin_login.h"
#include "api/handlers.h"
#include "auth/security_service.h"
#include "ops/gc.h"

namespace berth::api {
namespace {

// With no security section the registry is open and every caller may do
// everything, this included.
Status requireAdmin(Context& c) {
  if (!c.security) return {};
  const auto& p = c.who();
  if (!p) return tl::unexpected(p.error());
  return requireAdminLogin(*c.security, *p, AdminUse::Change);
}

}  // namespace

Status handleStorageGc(Context& c, ops::GarbageCollector& gc, const ops::GcOptions& defaults) {
  if (c.req().method != "POST") return unsupported(c);
  if (auto st = requireAdmin(c); !st) return st;
  ops::GcOptions o = defaults;
  std::string dry = c.req().queryValue("dryRun");
  if (dry != "" && dry != "true" && dry != "false" && dry != "1" && dry != "0")
    return fail(ErrorCode::BadRequest, "dryRun must be true or false");
  o.dry_run = dry == "true" || dry == "1";
  auto r = gc.run(o);
  if (!r) return tl::unexpected(r.error());
  nlohmann::json body{{"blobs", r->blobs},        {"bytes", r->bytes},     {"uploads", r->uploads},
                      {"directories", r->directories}, {"durationMs", r->duration_ms}, {"dryRun", r->dry_run},
                      {"evictedManifests", r->evicted_manifests}, {"evictedTags", r->evicted_tags}};
  c.ex.respond(jsonResponse(200, body.dump()));
  return {};
}

Status handleSystemReload(Context& c, const std::function<ops::ReloadReport()>& reload) {
  if (c.req().method != "POST") return unsupported(c);
  if (auto st = requireAdmin(c); !st) return st;
  auto report = reload();
  if (!report.applied) {
    // Where in the file and what, as check-config says it; the file's path is
    // left out (it is in the log).
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : report.problems) {
      nlohmann::json j{{"message", p.message}};
      if (p.line > 0) j["line"] = p.line;
      if (p.column > 0) j["column"] = p.column;
      if (!p.variable.empty()) j["variable"] = p.variable;
      problems.push_back(std::move(j));
    }
    return fail(ErrorCode::BadRequest, "the configuration does not validate; the running configuration stays",
                problems.dump());
  }
  const auto& r = report.repositories;
  nlohmann::json body{{"applied", true},
                      {"repositories", {{"added", r.added}, {"changed", r.changed}, {"removed", r.removed}}},
                      {"needsRestart", report.needs_restart}};
  c.ex.respond(jsonResponse(200, body.dump()));
  return {};
}

}  // namespace berth::api

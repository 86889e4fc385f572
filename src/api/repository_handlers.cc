// Artifactory's repository management API (docs/api.md, "Repositories"):
//   GET    [/artifactory]/api/repositories[?type=local|remote|virtual]   the repositories the caller may read
//   GET    [/artifactory]/api/repositories/<key>                         one repository's configuration
//   PUT    [/artifactory]/api/repositories/<key>                         create it (JSON body)
//   POST   [/artifactory]/api/repositories/<key>                         update it: the fields given change
//   DELETE [/artifactory]/api/repositories/<key>                         delete it with its content
// Reading needs `read` on the repository, changing it `manage` (which
// administrators have on every key). A Bearer token from the token endpoint
// is for pushing and pulling only: it is never a login here, whoever it was
// issued to (as for the administrators' endpoints, api/admin_login.h).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "api/repository_manager.h"
#include "berth/auth/principal.h"
#include "berth/core/reference.h"
#include "config/repository_json.h"
#include "core/json_input.h"

namespace berth::api {
namespace {

using nlohmann::json;
using auth::Action;

constexpr std::size_t kMaxBody = 256 * 1024;

// The caller, unless it came with a registry token.
Result<const auth::Principal*> caller(Context& c) {
  const auto& p = c.who();
  if (!p) return tl::unexpected(p.error());
  if (p->credential == auth::Credential::BearerToken)
    return fail(ErrorCode::Unauthorized, "authentication required",
                "a registry token is not a login for the repository API: use a password or an access token");
  return &*p;
}

bool mayRead(Context& c, const auth::Principal& who, const std::string& key) {
  if (!c.security) return true;
  const auto& narrowed = who.token_repositories;
  if (!narrowed.empty() && std::find(narrowed.begin(), narrowed.end(), key) == narrowed.end()) return false;
  // The member check is the read check without a request to log against,
  // closed to anonymous callers where authentication is forced.
  return c.access.mayThroughMember(who, key, "", Action::Read);
}

Status requireManage(Context& c, const std::string& key) {
  if (!c.security) return {};
  auto who = caller(c);
  if (!who) return tl::unexpected(who.error());
  return c.authorize({key, "", Action::Manage});
}

Result<json> readJsonBody(Context& c) {
  auto raw = c.ex.readBody(kMaxBody, Error{ErrorCode::BadRequest, "request body too large", {}});
  if (!raw) return tl::unexpected(raw.error());
  auto body = json_input::parse(*raw, ErrorCode::BadRequest);
  if (!body) return tl::unexpected(body.error());
  if (!body->is_object()) return fail(ErrorCode::BadRequest, "the body must be a JSON object");
  return std::move(*body);
}

Status listRepositories(Context& c, RepositoryManager& manager) {
  auto who = caller(c);
  if (!who) return tl::unexpected(who.error());
  std::string type = c.req().queryValue("type");
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (!type.empty() && type != "local" && type != "remote" && type != "virtual")
    return fail(ErrorCode::BadRequest, "type must be local, remote or virtual");
  std::string package = c.req().queryValue("packageType");
  std::transform(package.begin(), package.end(), package.begin(), [](unsigned char ch) { return std::tolower(ch); });
  json out = json::array();
  const std::string base = externalBase(c.req());
  const bool docker = package.empty() || package == "docker";  // Berth has no other package type
  for (const auto& [r, managed] : docker ? manager.list() : std::vector<RepositoryListing>{}) {
    std::string rtype = config::repoTypeName(r.type);
    if ((!type.empty() && rtype != type) || !mayRead(c, **who, r.key)) continue;
    std::transform(rtype.begin(), rtype.end(), rtype.begin(), [](unsigned char ch) { return std::toupper(ch); });
    out.push_back({{"key", r.key},
                   {"type", rtype},
                   {"description", r.description},
                   {"url", r.type == config::RepoType::Remote ? r.remote.url : base + "/artifactory/api/docker/" + r.key},
                   {"packageType", "Docker"},
                   {"definedIn", managed ? "api" : "config"}});
  }
  c.ex.respond(jsonResponse(200, out.dump()));
  return {};
}

Status showRepository(Context& c, RepositoryManager& manager, const std::string& key) {
  auto who = caller(c);
  if (!who) return tl::unexpected(who.error());
  // Unknown and unreadable answer alike: the caller learns nothing of keys it may not read.
  auto notFound = fail(ErrorCode::NotFound, "repository '" + key + "' does not exist");
  if (!mayRead(c, **who, key)) {
    if (auto st = c.authorize({key, "", Action::Read}); !st) return st;  // 401 with a challenge, or 403
    return notFound;
  }
  for (const auto& [r, managed] : manager.list()) {
    if (r.key != key) continue;
    bool manages = !c.security || c.access.mayThroughMember(**who, key, "", Action::Manage);
    json j = config::repositoryJson(r, manages);
    j["definedIn"] = managed ? "api" : "config";
    c.ex.respond(jsonResponse(200, j.dump()));
    return {};
  }
  return notFound;
}

Status answerChange(Context& c, const Result<RepositoryChange>& change, const std::string& message) {
  if (!change) return tl::unexpected(change.error());
  json j{{"message", message}, {"ignoredFields", change->ignored}, {"needsRestart", change->needs_restart}};
  c.ex.respond(jsonResponse(200, j.dump()));
  return {};
}

}  // namespace

Status handleRepositories(Context& c, RepositoryManager& manager) {
  const std::string& key = c.route.tail;
  const std::string& method = c.req().method;
  if (key.empty()) return method == "GET" ? listRepositories(c, manager) : unsupported(c);
  if (key.size() > 256) return fail(ErrorCode::NotFound, "no such repository");
  if (method == "GET") return showRepository(c, manager, key);
  if (method != "PUT" && method != "POST" && method != "DELETE") return unsupported(c);
  if (auto st = requireManage(c, key); !st) return st;
  if (method == "DELETE")
    return answerChange(c, manager.remove(key), "Repository '" + key + "' and all its content have been removed");
  if (auto problem = repoKeyProblem(key); !problem.empty() && method == "PUT")
    return fail(ErrorCode::NameInvalid, "invalid repository key", problem);
  auto body = readJsonBody(c);
  if (!body) return tl::unexpected(body.error());
  if (method == "PUT") return answerChange(c, manager.create(key, *body), "Successfully created repository '" + key + "'");
  return answerChange(c, manager.update(key, *body), "Repository '" + key + "' updated");
}

}  // namespace berth::api

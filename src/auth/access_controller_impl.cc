#include "auth/access_controller_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "http/forwarded.h"
#include "http/message.h"
#include "observe/metrics.h"

namespace berth::auth {
namespace {

// Whether a Bearer token's scope covers the request: a token is good only for
// what it was issued for, however much its user may do.
bool bearerCovers(const Principal& p, const AccessRequest& a) {
  if (!p.bearer_access) return true;  // not a Bearer JWT
  if (a.catalog) return p.bearer_registry.count("catalog") > 0;
  // The version check (GET /v2/, or a repository's under the Artifactory
  // routes) lists nothing: any valid token passes it, as a handshake.
  if (a.image.empty()) return true;
  const auto& action = a.action;
  std::string name = a.repo_key + "/" + a.image;
  for (const auto& [n, actions] : *p.bearer_access) {
    if (n != name) continue;
    if (actions.count("*")) return true;
    if (action == Action::Read) return !actions.empty();
    return actions.count("push") || actions.count("delete");
  }
  return false;
}

class EnforcingAccessController final : public AccessController {
 public:
  explicit EnforcingAccessController(std::shared_ptr<SecurityService> s) : security_(std::move(s)) {}

  bool enforcing() const override { return true; }

  Result<Principal> identify(const http::HttpRequest& req) override {
    std::string_view h = req.header("authorization");
    if (h.empty()) return Principal{};
    Result<Principal> p = fail(ErrorCode::Unauthorized, "authentication required", "unsupported authorization scheme");
    if (h.size() > 8192) {
      p = fail(ErrorCode::Unauthorized, "authentication required", "authorization header too long");
    } else if (startsWithScheme(h, "basic")) {
      std::string decoded;
      std::string b64(trim(h.substr(6)));
      auto colon = std::string::npos;
      if (base64Decode(b64, decoded)) colon = decoded.find(':');
      if (colon == std::string::npos)
        p = fail(ErrorCode::Unauthorized, "authentication required", "malformed basic credentials");
      else
        p = security_->authenticateBasic(decoded.substr(0, colon), decoded.substr(colon + 1), clientOf(req));
    } else if (startsWithScheme(h, "bearer")) {
      p = security_->authenticateBearer(std::string(trim(h.substr(7))), clientOf(req));
    }
    if (!p) {
      spdlog::warn("auth failure from {}: {} {}: {}", clientOf(req), req.method, req.path, p.error().detail);
      observe::metrics().authFailure(failureKind(h, p.error()));
    }
    return p;
  }

  Status authorize(const Principal& who, const http::HttpRequest& req, const AccessRequest& access) override {
    const Principal* p = &who;
    if (p->anonymous() && forcesAuthentication(access.repo_key)) return needLogin(access);
    bool ok = access.repo_key.empty() ? (p->anonymous() ? security_->mayReadSomething(*p) : true)
                                      : security_->isAllowed(*p, access.repo_key, access.image, access.action);
    if (ok && !bearerCovers(*p, access)) {
      // Allowed, but the token was not asked for this: send the client back for a new one.
      observe::metrics().authFailure(observe::AuthFailure::InsufficientScope);
      return fail(ErrorCode::Unauthorized, kInsufficientScope, requiredAccess(access));
    }
    if (ok) return {};
    if (p->anonymous()) return needLogin(access);
    observe::metrics().authFailure(observe::AuthFailure::Denied);
    spdlog::warn("access denied to {} from {}: {} {} {}/{}", p->name, clientOf(req), actionName(access.action),
                 req.method, access.repo_key, access.image);
    return fail(ErrorCode::Denied, "requested access to the resource is denied",
                actionName(access.action) + " on " + access.repo_key + (access.image.empty() ? "" : "/" + access.image));
  }

  bool mayList(const Principal& who, const std::string& repo_key, const std::string& image) override {
    return security_->isAllowed(who, repo_key, image, Action::Read);
  }
  bool mayThroughMember(const Principal& who, const std::string& repo_key, const std::string& image,
                        Action action) override {
    // A member that forces authentication stays closed to anonymous callers
    // through a virtual key too.
    if (who.anonymous() && forcesAuthentication(repo_key)) return false;
    if (who.token_repositories.empty()) return security_->isAllowed(who, repo_key, image, action);
    Principal through = who;
    through.token_repositories.clear();
    return security_->isAllowed(through, repo_key, image, action);
  }


 private:
  bool forcesAuthentication(const std::string& repo_key) const {
    auto s = security_->settings();
    return s->force_authentication_all || std::find(s->force_authentication_repos.begin(),
                                                    s->force_authentication_repos.end(),
                                                    repo_key) != s->force_authentication_repos.end();
  }
  // The real client (behind a trusted proxy, the one it reported).
  static std::string clientOf(const http::HttpRequest& req) {
    return req.client.empty() ? http::addressHost(req.remote) : req.client;
  }
  // Why identify() refused: the header's shape, then the scheme.
  static observe::AuthFailure failureKind(std::string_view header, const Error& e) {
    if (e.code == ErrorCode::TooManyRequests) return observe::AuthFailure::Throttled;
    if (header.size() > 8192 || e.detail == "malformed basic credentials" ||
        e.detail == "unsupported authorization scheme")
      return observe::AuthFailure::Malformed;
    return startsWithScheme(header, "basic") ? observe::AuthFailure::BadCredentials : observe::AuthFailure::BadToken;
  }
  static bool startsWithScheme(std::string_view h, std::string_view scheme) {
    if (h.size() <= scheme.size() || h[scheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i]) return false;
    return true;
  }
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  }
  // The access the request needs, as distribution writes it in 401 details
  // (moby treats a 401 whose body has a detail as final instead of retrying).
  static std::string requiredAccess(const AccessRequest& a) {
    std::string action = a.action == Action::Read ? "pull" : a.action == Action::Delete ? "delete" : "push";
    nlohmann::json d = nlohmann::json::array();
    if (a.repo_key.empty() || a.catalog)
      d.push_back({{"Type", "registry"}, {"Name", "catalog"}, {"Action", "*"}});
    else
      d.push_back({{"Type", "repository"}, {"Name", a.repo_key + "/" + a.image}, {"Action", action}});
    return d.dump();
  }
  static tl::unexpected<Error> needLogin(const AccessRequest& a) {
    return fail(ErrorCode::Unauthorized, "authentication required", requiredAccess(a));
  }

  std::shared_ptr<SecurityService> security_;
};

}  // namespace

AccessControllerPtr makeEnforcing(std::shared_ptr<SecurityService> security) {
  return std::make_shared<EnforcingAccessController>(std::move(security));
}

}  // namespace berth::auth

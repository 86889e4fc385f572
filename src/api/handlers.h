// Thin HTTP handlers: parse the request, call the repository, respond.
// Each returns a Status; an error is written by the dispatcher (api.cc) in
// the spec's JSON form, in one place.
#pragma once

#include "api/router.h"
#include <functional>
#include <optional>

#include "berth/auth/access_controller.h"
#include "berth/auth/principal.h"
#include "berth/repo/repository.h"
#include "http/exchange.h"
#include "ops/reload_plan.h"

namespace berth::auth {
class SecurityService;
}
namespace berth::ops {
class Lifecycle;
class GarbageCollector;
struct GcOptions;
}

namespace berth::api {

// The caller's rights in member repositories, as a virtual repository asks.
class MemberRights final : public repo::CallerRights {
 public:
  MemberRights(auth::AccessController& access, const Result<auth::Principal>& who) : access_(access), who_(who) {}
  bool allows(const std::string& repo_key, const std::string& image, auth::Action action) const override {
    return who_ && access_.mayThroughMember(*who_, repo_key, image, action);
  }

 private:
  auth::AccessController& access_;
  const Result<auth::Principal>& who_;
};

struct Context {
  http::Exchange& ex;
  const Route& route;
  repo::Repository* repo;  // null for registry-wide routes
  const repo::RepositoryRegistry& registry;
  auth::AccessController& access;
  auth::SecurityService* security;  // null when the registry is open (no security section)
  const http::HttpRequest& req() const { return ex.request(); }
  // What travels with every repository call (berth/repo/call.h).
  const repo::Call& call() {
    if (!call_) {
      rights_.emplace(access, who());
      call_ = repo::Call{ex.suspender(), req().request_id, &*rights_};
    }
    return *call_;
  }

  // The caller, identified once per request (credentials are checked once,
  // and a failure is logged once, however many checks a handler makes).
  const Result<auth::Principal>& who() {
    if (!who_) {
      who_ = access.identify(req());
      if (*who_ && !(*who_)->anonymous()) ex.notes().user = (*who_)->name;  // for the access log
    }
    return *who_;
  }
  Status authorize(const auth::AccessRequest& a) {
    const auto& p = who();
    if (!p) return tl::unexpected(p.error());
    return access.authorize(*p, req(), a);
  }

  std::optional<Result<auth::Principal>> who_;  // memo of who(); not set by callers
  std::optional<MemberRights> rights_;          // what call() carries
  std::optional<repo::Call> call_;              // memo of call()
};

Status handleBase(Context& c);
Status handleCatalog(Context& c);
Status handleRepoCatalog(Context& c);
Status handleBlob(Context& c);
Status handleUploadStart(Context& c);
Status handleUpload(Context& c);
Status handleManifest(Context& c);
Status handleTags(Context& c);
Status handleReferrers(Context& c);
Status handleToken(Context& c);
Status handleAuthConfig(Context& c);
Status handleSecurity(Context& c);
Status handlePromote(Context& c, ops::Lifecycle& life);
Status handleRepoPath(Context& c, ops::Lifecycle& life);
Status handleStorageGc(Context& c, ops::GarbageCollector& gc, const ops::GcOptions& options);
Status handleSystemReload(Context& c, const std::function<ops::ReloadReport()>& reload);
class RepositoryManager;
Status handleRepositories(Context& c, RepositoryManager& manager);

// "http(s)://host" as the client addressed us (Host header, TLS or not).
std::string externalBase(const http::HttpRequest& req);
// The WWW-Authenticate Bearer challenge for a request on this route.
std::string bearerChallenge(const Context& c);

// Shared helpers (responses.cc).
http::HttpResponse jsonResponse(int status, std::string body);
http::HttpResponse errorResponse(const Error& e);
tl::unexpected<Error> unsupported(const Context& c);
// Parses ?n= and ?last= (PAGINATION_NUMBER_INVALID for a bad n).
struct PageRequest {
  std::size_t n;
  std::string last;
};
Result<PageRequest> pageRequest(const http::HttpRequest& req, std::size_t default_n);
// RFC 5988 Link header for the next page.
std::string nextLink(const std::string& url, std::size_t n, const std::string& last);

}  // namespace berth::api

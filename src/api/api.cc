#include "api/api.h"

#include <spdlog/spdlog.h>

#include "api/handlers.h"
#include "auth/access_controller_impl.h"
#include "observe/metrics.h"
#include "ops/gc.h"
#include "ops/lifecycle.h"

namespace berth::api {
namespace {

// Adds the headers every registry response carries.
class HeaderAddingExchange final : public http::Exchange {
 public:
  explicit HeaderAddingExchange(http::Exchange& inner) : inner_(inner) {}
  const http::HttpRequest& request() const override { return inner_.request(); }
  Result<std::string> readBody(std::size_t limit, const Error& too_large) override {
    return inner_.readBody(limit, too_large);
  }
  Result<uint64_t> streamBody(const http::BodySink& sink) override { return inner_.streamBody(sink); }
  std::optional<uint64_t> contentLength() const override { return inner_.contentLength(); }
  void respond(http::HttpResponse res) override { inner_.respond(decorate(std::move(res))); }
  void respondFile(http::HttpResponse head, int fd, uint64_t offset, uint64_t length,
                   const ReadyFn& ready) override {
    inner_.respondFile(decorate(std::move(head)), fd, offset, length, ready);
  }
  bool responded() const override { return inner_.responded(); }
  void pause(std::chrono::milliseconds d) override { inner_.pause(d); }
  http::Suspender* suspender() override { return inner_.suspender(); }
  http::ExchangeNotes& notes() override { return inner_.notes(); }

 private:
  static http::HttpResponse decorate(http::HttpResponse res) {
    res.set("Docker-Distribution-API-Version", "registry/2.0");
    return res;
  }
  http::Exchange& inner_;
};

// The access a repository route needs, as its handler will ask for it.
auth::AccessRequest accessFor(const Route& r, const std::string& method) {
  using auth::Action;
  bool read = method == "GET" || method == "HEAD";
  switch (r.kind) {
    case RouteKind::RepoCatalog: return {r.repo_key, {}, Action::Read, /*catalog=*/true};
    case RouteKind::UploadStart:
    case RouteKind::Upload: return {r.repo_key, r.image, Action::Deploy};
    case RouteKind::Blob:
    case RouteKind::Manifest:
      return {r.repo_key, r.image, read ? Action::Read : method == "DELETE" ? Action::Delete : Action::Deploy};
    // The images are in the body or the path: any right of the kind in the
    // repository passes here, the handler asks for each image.
    case RouteKind::RepoPath: return {r.repo_key, {}, method == "DELETE" ? Action::Delete : Action::Read};
    default: return {r.repo_key, r.image, Action::Read};
  }
}

observe::RouteLabel routeLabel(RouteKind k) {
  using L = observe::RouteLabel;
  switch (k) {
    case RouteKind::Base: return L::Base;
    case RouteKind::Catalog: return L::Catalog;
    case RouteKind::RepoCatalog: return L::RepoCatalog;
    case RouteKind::Blob: return L::Blob;
    case RouteKind::UploadStart: return L::UploadStart;
    case RouteKind::Upload: return L::Upload;
    case RouteKind::Manifest: return L::Manifest;
    case RouteKind::Tags: return L::Tags;
    case RouteKind::Referrers: return L::Referrers;
    case RouteKind::Token: return L::Token;
    case RouteKind::AuthConfig: return L::AuthConfig;
    case RouteKind::Security: return L::Security;
    case RouteKind::Promote: return L::Promote;
    case RouteKind::RepoPath: return L::RepoPath;
    case RouteKind::StorageGc: return L::StorageGc;
    case RouteKind::SystemReload: return L::SystemReload;
    case RouteKind::Repositories: return L::Repositories;
  }
  return L::Unmatched;
}

// What writes content: the storage quota refuses these, not reads or deletes.
bool isPush(RouteKind k, const std::string& method) {
  if (k == RouteKind::UploadStart || k == RouteKind::Upload) return method != "GET" && method != "HEAD" && method != "DELETE";
  return k == RouteKind::Manifest && method == "PUT";
}

}  // namespace

std::string Api::challenge(http::Exchange& ex, const repo::RepositoryRegistry& repos, const std::optional<Route>& route,
                           const Error& e) {
  // The token endpoint, /v2/auth and the REST APIs take Basic credentials.
  if (!route || route->kind == RouteKind::Token || route->kind == RouteKind::Security ||
      route->kind == RouteKind::AuthConfig || route->kind == RouteKind::Promote || route->kind == RouteKind::RepoPath ||
      route->kind == RouteKind::StorageGc || route->kind == RouteKind::SystemReload ||
      route->kind == RouteKind::Repositories)
    return "Basic realm=\"Berth\"";
  Context c{ex, *route, nullptr, repos, *access_, security_.get(), {}, {}, {}};
  std::string out = bearerChallenge(c);
  if (e.message == auth::kInsufficientScope) out += ",error=\"insufficient_scope\"";
  return out;
}

Api::Api(std::shared_ptr<const repo::LiveRepositories> repositories, auth::AccessControllerPtr access,
         std::shared_ptr<auth::SecurityService> security, storage::MetadataStorePtr meta)
    : repositories_(std::move(repositories)),
      access_(std::move(access)),
      security_(std::move(security)),
      meta_(std::move(meta)) {}

void Api::setGarbageCollector(std::shared_ptr<ops::GarbageCollector> gc, const ops::GcOptions& options) {
  gc_ = std::move(gc);
  gc_options_ = std::make_shared<const ops::GcOptions>(options);
}

void Api::handle(http::Exchange& raw) {
  HeaderAddingExchange ex(raw);
  // Once per request, held to its end: a reload meanwhile does not change
  // the repositories this request works on, nor free them under it.
  const auto repos = repositories_->current();
  Status st;
  std::optional<Route> route;
  try {
    st = dispatch(ex, repos, route);
  } catch (const std::exception& e) {
    spdlog::error("handler threw: {} ({} {})", e.what(), ex.request().method, ex.request().path);
    st = fail(ErrorCode::Unknown, "internal error");
  }
  if (!st && !ex.responded()) {
    const Error& e = st.error();
    // The log has the whole message; errorResponse keeps internal ones from the client.
    if (e.internal || e.code == ErrorCode::Unknown || e.code == ErrorCode::Unavailable)
      spdlog::error("request failed: {} {}: {}", ex.request().method, ex.request().path, e.message);
    auto res = errorResponse(e);
    if (e.code == ErrorCode::Unauthorized) res.set("WWW-Authenticate", challenge(ex, *repos, route, e));
    if (e.code == ErrorCode::TooManyRequests) res.set("Retry-After", e.detail);
    ex.respond(std::move(res));
  }
}

Status Api::dispatch(http::Exchange& ex, const std::shared_ptr<const repo::RepositoryRegistry>& repos,
                     std::optional<Route>& matched) {
  // A repository's own port decides first; then its subdomain, if any.
  std::string scoped = ex.request().port_repository;
  if (scoped.empty() && !subdomain_base_.empty())
    scoped = subdomainRepository(ex.request().header("host"), subdomain_base_);
  auto route = matchRoute(ex.request().path, scoped);
  if (!route) return tl::unexpected(route.error());
  matched = *route;
  ex.notes().route = static_cast<int>(routeLabel(route->kind));
  ex.notes().repository = route->repo_key;
  repo::Repository* repo = route->repo_key.empty() ? nullptr : repos->find(route->repo_key);
  Context c{ex, *route, repo, *repos, *access_, security_.get(), {}, {}, {}};
  switch (route->kind) {
    case RouteKind::Base: return handleBase(c);
    case RouteKind::Catalog: return handleCatalog(c);
    case RouteKind::Token: return handleToken(c);
    case RouteKind::AuthConfig: return handleAuthConfig(c);
    case RouteKind::Security: return handleSecurity(c);
    case RouteKind::StorageGc: return gc_ ? handleStorageGc(c, *gc_, *gc_options_) : unsupported(c);
    case RouteKind::SystemReload: return reload_ ? handleSystemReload(c, reload_) : unsupported(c);
    case RouteKind::Repositories: return repository_manager_ ? handleRepositories(c, *repository_manager_) : unsupported(c);
    default: break;
  }
  // Access is checked before the repository is looked up, for known and
  // unknown keys alike, so that an unknown key answers exactly as a key the
  // caller may not use (401 with the same challenge, or 403): only a caller
  // who may read that key (through ANY, say) learns that it does not exist.
  // Handlers check again, with what they learn from the request.
  if (auto st = c.authorize(accessFor(*route, ex.request().method)); !st) return st;
  if (!repo) return fail(ErrorCode::NameUnknown, "repository key not known to registry", route->repo_key);
  if (push_guard_ && isPush(route->kind, ex.request().method)) {
    if (auto st = push_guard_(); !st) {
      observe::metrics().quotaRefused();
      return st;
    }
  }
  switch (route->kind) {
    case RouteKind::RepoCatalog: return handleRepoCatalog(c);
    case RouteKind::Blob: return handleBlob(c);
    case RouteKind::UploadStart: return handleUploadStart(c);
    case RouteKind::Upload: return handleUpload(c);
    case RouteKind::Manifest: return handleManifest(c);
    case RouteKind::Tags: return handleTags(c);
    case RouteKind::Referrers: return handleReferrers(c);
    case RouteKind::Promote:
    case RouteKind::RepoPath: {
      if (!meta_) return unsupported(c);
      ops::Lifecycle life(repos, meta_);  // over this request's snapshot
      return route->kind == RouteKind::Promote ? handlePromote(c, life) : handleRepoPath(c, life);
    }
    default: return unsupported(c);
  }
}

}  // namespace berth::api

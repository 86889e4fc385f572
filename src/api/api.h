// The registry API: routes a request, checks the repository and access, runs
// the handler and writes any error in the spec's JSON form. The one guard
// that turns a stray exception into a logged 500.
#pragma once

#include <functional>
#include <optional>

#include "api/router.h"
#include "berth/auth/access_controller.h"
#include "berth/repo/repository.h"
#include "http/exchange.h"
#include "ops/reload_plan.h"
#include "repo/live_repositories.h"

namespace berth::auth {
class SecurityService;
}
namespace berth::ops {
class Lifecycle;
class GarbageCollector;
struct GcOptions;
}

namespace berth::api {

class RepositoryManager;

class Api {
 public:
  // `security` is null for an open registry; `meta` null: no promotion or
  // deletion routes (UNSUPPORTED). Each request takes the repositories'
  // current snapshot once and holds it to its end (docs/design.md).
  Api(std::shared_ptr<const repo::LiveRepositories> repositories, auth::AccessControllerPtr access,
      std::shared_ptr<auth::SecurityService> security, storage::MetadataStorePtr meta = nullptr);
  void handle(http::Exchange& ex);
  // Pushes (upload requests, manifest PUTs) ask it first; an error refuses
  // them (the storage quota). Set before serving.
  void setPushGuard(std::function<Status()> guard) { push_guard_ = std::move(guard); }
  // server.subdomain_base: a Host of <repoKey>.<base> addresses that
  // repository as its own port does. Set before serving.
  void setSubdomainBase(std::string base) { subdomain_base_ = std::move(base); }
  // Serves POST /api/system/storage/gc with these options (else UNSUPPORTED).
  void setGarbageCollector(std::shared_ptr<ops::GarbageCollector> gc, const ops::GcOptions& options);
  // Serves POST /api/system/reload with it (else UNSUPPORTED). Set before serving.
  void setReloader(std::function<ops::ReloadReport()> reload) { reload_ = std::move(reload); }
  // Serves /api/repositories with it (else UNSUPPORTED). Set before serving.
  void setRepositoryManager(std::shared_ptr<RepositoryManager> m) { repository_manager_ = std::move(m); }

 private:
  Status dispatch(http::Exchange& ex, const std::shared_ptr<const repo::RepositoryRegistry>& repos,
                  std::optional<Route>& matched);
  // The WWW-Authenticate value for a 401 on this route.
  std::string challenge(http::Exchange& ex, const repo::RepositoryRegistry& repos, const std::optional<Route>& route,
                        const Error& e);

  std::shared_ptr<const repo::LiveRepositories> repositories_;
  auth::AccessControllerPtr access_;
  std::shared_ptr<auth::SecurityService> security_;
  storage::MetadataStorePtr meta_;
  std::function<ops::ReloadReport()> reload_;
  std::shared_ptr<RepositoryManager> repository_manager_;
  std::function<Status()> push_guard_;
  std::string subdomain_base_;
  std::shared_ptr<ops::GarbageCollector> gc_;
  std::shared_ptr<const ops::GcOptions> gc_options_;
};

}  // namespace berth::api

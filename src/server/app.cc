#include "server/app.h"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "api/api.h"
#include "api/health_endpoint.h"
#include "api/metrics_endpoint.h"
#include "auth/access_controller_impl.h"
#include "auth/security_service.h"
#include "http/server.h"
#include "observe/health.h"
#include "observe/logging.h"
#include "observe/metrics.h"
#include "server/metrics_listener.h"
#include "storage/free_space.h"
#include "ops/gc.h"
#include "ops/lifecycle.h"
#include "ops/reload_plan.h"
#include "repo/live_repositories.h"
#include "repo/upload_store.h"
#include "server/repository_admin.h"
#include "server/repository_set.h"
#include "storage/fs_blob_store.h"
#include "storage/repository_definitions.h"
#include "storage/root_lock.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {
namespace {

// Each connection, upload and blob read takes a descriptor; the usual soft
// limit (1024) is far below what the hard limit allows.
void raiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  spdlog::info("file descriptor limit: soft {} (was {}), hard {}", lim.rlim_cur, before, lim.rlim_max);
}

// A listener for each repository with a port of its own; one that cannot
// be had refuses the start or the change, unless `optional` says it may be
// left out (and logged).
std::vector<http::RepositoryListener> repositoryListeners(
    const config::Config& c, const std::function<bool(const config::Repository&)>& optional) {
  std::vector<http::RepositoryListener> out;
  for (const auto& r : c.repositories)
    if (r.port != 0) out.push_back({r.key, static_cast<uint16_t>(r.port), !optional(r)});
  return out;
}

}  // namespace

struct App::Parts {
  config::Config cfg;
  std::unique_ptr<storage::RootLock> root_lock;  // shared: keeps `berth gc` out while serving
  std::shared_ptr<storage::FsBlobStore> blobs;
  std::shared_ptr<storage::SqliteMetadataStore> meta;
  std::shared_ptr<repo::UploadStore> uploads;
  std::unique_ptr<RepositorySetBuilder> builder;
  std::shared_ptr<RepositoryAdmin> repository_admin;  // /api/repositories
  std::shared_ptr<repo::LiveRepositories> repositories;
  std::shared_ptr<auth::SecurityService> security;
  std::shared_ptr<ops::GarbageCollector> gc;
  std::unique_ptr<ops::GcSchedule> gc_schedule;  // with gc.interval_minutes > 0, from serve()
  std::unique_ptr<api::Api> api;
  std::unique_ptr<observe::Health> health;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<storage::FreeSpaceFloor> push_floor;
  auth::AccessControllerPtr access;
  std::unique_ptr<MetricsListener> metrics_listener;  // metrics.listen
  // Reloads (docs/operations.md, "Reloading"), one at a time. `cfg` stays
  // the config the process started with (what restart-only keys are compared
  // against); `applied` is the one whose repositories and security serve now.
  std::mutex reload_mu;
  config::Config applied;
  std::function<config::Config()> source;
  // Hourly upkeep (expired uploads), stopped with the server.
  std::mutex upkeep_mu;
  std::condition_variable upkeep_cv;
  bool stopping = false;
  std::thread upkeep;
};

namespace {
// Uploads with no request for upload_expiry_hours (at start, then hourly).
void purgeIdleUploads(repo::UploadStore& uploads, unsigned expiry_hours) {
  int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - int64_t(expiry_hours) * 3600;
  if (auto n = uploads.purgeIdleSince(cutoff); n > 0) spdlog::info("purged {} idle uploads", n);
}
}  // namespace

App::App(config::Config cfg) : parts_(std::make_unique<Parts>()) {
  auto& p = *parts_;
  p.cfg = std::move(cfg);
  raiseFileLimit();
  storage::Paths paths(p.cfg.storage.root);
  auto lock = storage::RootLock::acquire(paths.lockFile(), storage::RootLock::Mode::Shared);
  if (!lock) throw std::runtime_error(lock.error().message + " (" + paths.root() + ")");
  p.root_lock = std::move(*lock);
  p.blobs = std::make_shared<storage::FsBlobStore>(paths);
  p.meta = std::make_shared<storage::SqliteMetadataStore>(
      paths.metadataDb(), p.cfg.storage.metadata_sync == "normal" ? storage::SyncMode::Normal : storage::SyncMode::Full);
  p.uploads = std::make_shared<repo::UploadStore>(
      paths, p.meta, p.blobs, repo::UploadLimits{p.cfg.storage.max_uploads_per_repository, p.cfg.storage.max_uploads_per_user,
                                            uint64_t{p.cfg.storage.upload_cache_mib} << 20});
  if (p.blobs->tempFilesRemovedAtStart() > 0)
    spdlog::info("removed {} temporary files left by an earlier run", p.blobs->tempFilesRemovedAtStart());
  purgeIdleUploads(*p.uploads, p.cfg.storage.upload_expiry_hours);
  if (auto orphans = p.uploads->removeOrphanFiles(); orphans > 0)
    spdlog::info("removed {} upload files without a session", orphans);

  p.repository_admin = std::make_shared<RepositoryAdmin>(
      std::make_shared<storage::RepositoryDefinitions>(paths.metadataDb()), p.meta, p.uploads);
  // What serves from the start: the file's repositories and the API's.
  p.cfg = p.repository_admin->compose(std::move(p.cfg));
  p.builder = std::make_unique<RepositorySetBuilder>(p.blobs, p.meta, p.uploads);
  p.repositories = std::make_shared<repo::LiveRepositories>(p.builder->build(p.cfg.repositories, nullptr, nullptr));
  p.applied = p.cfg;
  auth::AccessControllerPtr access;
  if (p.cfg.security.enabled) {
    auto store = std::make_shared<auth::SecurityStore>(paths.metadataDb());
    p.security = std::make_shared<auth::SecurityService>(p.cfg, store);
    access = auth::makeEnforcing(p.security);
  } else {
    spdlog::warn("no security section in the configuration: this registry is open to everyone");
    access = auth::makeAllowAll();
  }
  p.api = std::make_unique<api::Api>(p.repositories, access, p.security, p.meta);
  p.api->setReloader([this] { return reload("POST /api/system/reload"); });
  p.repository_admin->setApply([this](const auto& edit, const auto& done, std::string_view trigger) {
    return applyEdited(edit, done, trigger);
  });
  p.repository_admin->setCurrent([&p] {
    std::lock_guard lock(p.reload_mu);
    return p.applied;
  });
  p.api->setRepositoryManager(p.repository_admin);
  p.access = access;
  if (p.cfg.storage.min_free_bytes > 0) {
    p.push_floor = std::make_unique<storage::FreeSpaceFloor>(paths.root(), p.cfg.storage.min_free_bytes);
    p.api->setPushGuard([floor = p.push_floor.get()] { return floor->check(); });
  }
  p.gc = std::make_shared<ops::GarbageCollector>(paths, p.blobs, p.meta, p.uploads);
  p.gc->setCacheRetention([repos = p.repositories] { return ops::cacheRetention(*repos->current()); });
  p.api->setGarbageCollector(p.gc, ops::gcOptions(p.cfg.gc));
  p.api->setSubdomainBase(p.cfg.server.subdomain_base);

  auto hp = config::parseListen(p.cfg.server.listen);
  http::ServerOptions opts;
  if (p.cfg.server.tls.enabled()) {
    opts.tls = std::make_shared<http::TlsContext>(p.cfg.server.tls.cert, p.cfg.server.tls.key);
    opts.redirect_plain_http = p.cfg.server.tls.redirect_plain_http;
  }
  opts.host = hp.host;
  opts.port = hp.port;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  opts.workers = p.cfg.server.workers ? p.cfg.server.workers : std::max(8u, 4 * cores);
  opts.max_connections = p.cfg.server.max_connections;
  opts.max_connections_per_client = p.cfg.server.max_connections_per_client;
  opts.connection.header_timeout_seconds = p.cfg.server.header_timeout_seconds;
  opts.connection.idle_timeout_seconds = p.cfg.server.idle_timeout_seconds;
  opts.connection.read_timeout_seconds = p.cfg.server.read_timeout_seconds;
  opts.connection.min_body_bytes_per_second = p.cfg.server.min_body_bytes_per_second;
  opts.connection.body_budget = std::make_shared<http::BodyBudget>(p.cfg.server.max_buffered_body_bytes);
  opts.connection.trusted_proxies = http::TrustedProxies::fromStrings(p.cfg.server.trusted_proxies);
  // A port the API gave is not worth refusing to start for: the API could
  // not be reached to take it back.
  std::set<std::string> managed;
  for (const auto& [r, is_managed] : p.repository_admin->list())
    if (is_managed) managed.insert(r.key);
  opts.repository_listeners =
      repositoryListeners(p.cfg, [&managed](const config::Repository& r) { return managed.count(r.key) > 0; });
  http::ExchangeObserver observer = [access_log = p.cfg.log.access_log](const http::ExchangeSummary& s) {
    observe::observeExchange(s, access_log);
  };
  p.health = std::make_unique<observe::Health>(paths, [meta = p.meta] { return meta->ping(); },
                                               p.cfg.storage.ready_min_free_bytes);
  api::Api* api = p.api.get();
  observe::Health* health = p.health.get();
  // /metrics on the main listener unless it has a listener of its own.
  std::optional<api::MetricsAccess> metrics_here;
  if (p.cfg.metrics.enabled && p.cfg.metrics.listen.empty())
    metrics_here = api::MetricsAccess{p.cfg.metrics.require_permission, p.access.get(), p.security.get()};
  auto handler = [api, health, metrics_here](http::Exchange& ex) {
    if (api::answerHealthRoute(ex, *health)) return;
    if (metrics_here && api::answerMetricsRoute(ex, *metrics_here)) return;
    api->handle(ex);
  };
  // The metrics listener first: a repository's port that the API gave must
  // not take its port and keep the daemon from starting.
  if (p.cfg.metrics.enabled && !p.cfg.metrics.listen.empty())
    p.metrics_listener = std::make_unique<MetricsListener>(p.cfg.metrics.listen);
  p.server = std::make_unique<http::Server>(opts, handler, observer);
  p.server->listen();
  countStoredBlobs(paths);
}

App::~App() {
  if (parts_->gc_schedule) parts_->gc_schedule->stop();
  {
    std::lock_guard lock(parts_->upkeep_mu);
    parts_->stopping = true;
  }
  parts_->upkeep_cv.notify_all();
  if (parts_->upkeep.joinable()) parts_->upkeep.join();
}

std::string App::metricsAddress() const {
  return parts_->metrics_listener ? parts_->metrics_listener->address() : std::string();
}

std::string App::address() const { return parts_->server->boundAddress(); }

std::vector<std::pair<std::string, std::string>> App::repositoryAddresses() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& l : parts_->server->boundListeners())
    if (!l.repository.empty()) out.emplace_back(l.repository, l.address);
  return out;
}

void App::serve() {
  auto& p = *parts_;
  if (p.metrics_listener) p.metrics_listener->start();
  p.upkeep = std::thread([&p] {
    std::unique_lock lock(p.upkeep_mu);
    while (!p.upkeep_cv.wait_for(lock, std::chrono::hours(1), [&p] { return p.stopping; }))
      purgeIdleUploads(*p.uploads, p.cfg.storage.upload_expiry_hours);
  });
  if (p.cfg.gc.interval_minutes > 0)
    p.gc_schedule = std::make_unique<ops::GcSchedule>(p.gc, ops::gcOptions(p.cfg.gc),
                                                      std::chrono::minutes(p.cfg.gc.interval_minutes));
  p.server->serve();
}

void App::beginDrain() { parts_->health->setDraining(); }

std::size_t App::stop() {
  beginDrain();
  // Upstream fetches in flight are cancelled before the drain, not after it:
  // a request waiting on an upstream (one that trickles a blob for ever)
  // would otherwise hold the drain for the whole grace period. Those requests
  // end with an error or a cut connection (nothing partial is cached); the
  // rest drain as usual.
  parts_->builder->shutdownOutbound();
  // A collection in progress (periodic or asked for) ends at its next batch.
  parts_->gc->cancel();
  auto left = parts_->server->stop(parts_->cfg.server.shutdown_grace_seconds);
  if (parts_->metrics_listener) parts_->metrics_listener->stop();
  return left;
}

namespace {
config::ConfigProblem problem(std::string message) {
  config::ConfigProblem p;
  p.message = std::move(message);
  return p;
}

void logReport(const ops::ReloadReport& report, std::string_view trigger) {
  if (!report.applied) {
    for (const auto& p : report.problems)
      spdlog::error("{}: the configuration does not validate; the running configuration stays: {}", trigger,
                    report.origin.empty() ? p.message : p.text(report.origin));
    return;
  }
  const auto& r = report.repositories;
  spdlog::info("{}: configuration reloaded: repositories added [{}], changed [{}], removed [{}], unchanged {}", trigger,
               fmt::join(r.added, ", "), fmt::join(r.changed, ", "), fmt::join(r.removed, ", "), r.kept.size());
  if (!report.needs_restart.empty())
    spdlog::warn("{}: these changed keys need a restart to apply: {}", trigger, fmt::join(report.needs_restart, ", "));
}
}  // namespace

void App::setConfigSource(std::function<config::Config()> source) {
  std::lock_guard lock(parts_->reload_mu);
  parts_->source = std::move(source);
}

ops::ReloadReport App::reload(std::string_view trigger) {
  std::function<config::Config()> source;
  {
    std::lock_guard lock(parts_->reload_mu);
    source = parts_->source;
  }
  ops::ReloadReport refused;
  std::optional<config::Config> next;
  try {
    if (source) next = source();
  } catch (const config::ConfigError& e) {
    refused.problems = e.problems();
    refused.origin = e.origin();
  } catch (const std::exception& e) {
    refused.problems.push_back(problem(e.what()));
  }
  if (next)
    return applyEdited([&](const config::Config&) { return parts_->repository_admin->compose(std::move(*next)); }, {},
                       trigger);
  if (!source) refused.problems.push_back(problem("this berth was given no config to reload from"));
  logReport(refused, trigger);
  return refused;
}

ops::ReloadReport App::applyEdited(const std::function<std::optional<config::Config>(const config::Config&)>& edit,
                                   const std::function<void(const ops::ReloadReport&)>& done,
                                   std::string_view trigger) {
  std::lock_guard lock(parts_->reload_mu);
  auto next = edit(parts_->applied);
  if (!next) return {};
  auto report = applyLocked(*next, trigger);
  if (done) done(report);
  return report;
}

ops::ReloadReport App::applyLocked(const config::Config& next, std::string_view trigger) {
  auto& p = *parts_;
  ops::ReloadReport report;
  report.repositories = ops::planRepositories(p.applied.repositories, next.repositories);
  report.needs_restart = ops::keysNeedingRestart(p.cfg, next);
  // Everything is built before anything is published: a repository that
  // cannot be set up (a CA bundle unreadable, say) leaves the running set
  // as it is.
  std::shared_ptr<const repo::RepositoryRegistry> built;
  try {
    built = p.builder->build(next.repositories, p.repositories->current().get(), &report.repositories);
  } catch (const std::exception& e) {
    spdlog::error("{}: a repository could not be set up: {}", trigger, e.what());
    report.problems.push_back(problem("a repository could not be set up; the log says why"));
    logReport(report, trigger);
    return report;
  }
  // The repositories' own ports: all new ones bound, or nothing changes. A
  // new port may take a request a moment before its repository is
  // published; it answers NAME_UNKNOWN, as a port asked too early would.
  try {
    // Only a port this change asks for is required: one that was left out
    // at start (taken meanwhile) is tried again, and left out again.
    auto unchanged = [&p](const config::Repository& r) {
      for (const auto& old : p.applied.repositories)
        if (old.key == r.key) return old.port == r.port;
      return false;
    };
    p.server->setRepositoryListeners(repositoryListeners(next, unchanged));
  } catch (const std::exception& e) {
    report.problems.push_back(problem(e.what()));
    logReport(report, trigger);
    return report;
  }
  // Security first: the model then knows a new repository's type before the
  // repository answers, so "ANY LOCAL" permissions cover it from its first request.
  // Turning security on or off waits for a restart (keysNeedingRestart says
  // so): a section that is off must not open an enforcing registry meanwhile.
  if (p.security && next.security.enabled) p.security->applyConfig(next);
  p.repositories->publish(std::move(built));
  p.applied = next;
  report.applied = true;
  logReport(report, trigger);
  return report;
}

}  // namespace berth::server

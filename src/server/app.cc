#include "server/app.h"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
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
#include "http/client.h"
#include "repo/local_repository.h"
#include "repo/remote/remote_repository.h"
#include "repo/virtual/virtual_repository.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
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

}  // namespace

struct App::Parts {
  config::Config cfg;
  std::unique_ptr<storage::RootLock> root_lock;  // shared: keeps `berth gc` out while serving
  std::shared_ptr<storage::FsBlobStore> blobs;
  std::shared_ptr<storage::SqliteMetadataStore> meta;
  std::shared_ptr<repo::UploadStore> uploads;
  std::shared_ptr<repo::RepositoryRegistry> registry;
  std::shared_ptr<auth::SecurityService> security;
  std::shared_ptr<ops::GarbageCollector> gc;
  std::unique_ptr<ops::GcSchedule> gc_schedule;  // with gc.interval_minutes > 0, from serve()
  std::unique_ptr<api::Api> api;
  std::unique_ptr<observe::Health> health;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<storage::FreeSpaceFloor> push_floor;
  auth::AccessControllerPtr access;
  std::unique_ptr<MetricsListener> metrics_listener;  // metrics.listen
  // The remotes' outbound clients: shut down when the drain starts (stop()).
  std::vector<std::shared_ptr<http::HttpClient>> outbound;
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

  p.registry = std::make_shared<repo::RepositoryRegistry>();
  std::vector<std::shared_ptr<repo::VirtualRepository>> virtuals;
  for (const auto& r : p.cfg.repositories) {
    if (r.type == config::RepoType::Virtual) {
      virtuals.push_back(std::make_shared<repo::VirtualRepository>(r, p.meta));
      p.registry->add(virtuals.back());
      spdlog::info("repository {}: virtual over [{}], pushes to {}", r.key, fmt::join(r.virt.repositories, ", "),
                   r.virt.default_deployment_repo.empty() ? "(none)" : r.virt.default_deployment_repo);
    } else if (r.type == config::RepoType::Remote) {
      // One client per remote: each has its own timeout, CA bundle and pool.
      http::ClientOptions co;
      co.timeout = std::chrono::seconds(r.remote.timeout_seconds);
      co.ca_file = r.remote.ca_file;
      co.proxy = http::ProxyConfig::fromEnvironment();
      auto client = std::make_shared<http::HttpClient>(co);
      p.outbound.push_back(client);
      p.registry->add(std::make_shared<repo::remote::RemoteRepository>(r, p.blobs, p.meta, p.uploads, client));
      spdlog::info("repository {}: remote, upstream {}{}", r.key, r.remote.url, r.remote.offline ? " (offline)" : "");
    } else {
      p.registry->add(std::make_shared<repo::LocalRepository>(r, p.blobs, p.meta, p.uploads));
    }
  }
  // Members may be defined after the virtual repository that lists them.
  for (auto& v : virtuals) v->bind(*p.registry);
  auth::AccessControllerPtr access;
  if (p.cfg.security.enabled) {
    auto store = std::make_shared<auth::SecurityStore>(paths.metadataDb());
    p.security = std::make_shared<auth::SecurityService>(p.cfg, store);
    access = auth::makeEnforcing(p.security);
  } else {
    spdlog::warn("no security section in the configuration: this registry is open to everyone");
    access = auth::makeAllowAll();
  }
  p.api = std::make_unique<api::Api>(p.registry, access, p.security,
                                     std::make_shared<ops::Lifecycle>(p.registry, p.meta));
  p.access = access;
  if (p.cfg.storage.min_free_bytes > 0) {
    p.push_floor = std::make_unique<storage::FreeSpaceFloor>(paths.root(), p.cfg.storage.min_free_bytes);
    p.api->setPushGuard([floor = p.push_floor.get()] { return floor->check(); });
  }
  p.gc = std::make_shared<ops::GarbageCollector>(paths, p.blobs, p.meta, p.uploads);
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
  for (const auto& r : p.cfg.repositories)
    if (r.port != 0) opts.repository_listeners.push_back({r.key, static_cast<uint16_t>(r.port)});
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
  p.server = std::make_unique<http::Server>(opts, handler, observer);
  p.server->listen();
  if (p.cfg.metrics.enabled && !p.cfg.metrics.listen.empty())
    p.metrics_listener = std::make_unique<MetricsListener>(p.cfg.metrics.listen);
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
  for (auto& client : parts_->outbound) client->shutdown();
  // A collection in progress (periodic or asked for) ends at its next batch.
  parts_->gc->cancel();
  auto left = parts_->server->stop(parts_->cfg.server.shutdown_grace_seconds);
  if (parts_->metrics_listener) parts_->metrics_listener->stop();
  return left;
}

}  // namespace berth::server

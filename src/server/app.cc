#include "server/app.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "api/api.h"
#include "auth/access_controller_impl.h"
#include "auth/security_service.h"
#include "http/server.h"
#include "observe/logging.h"
#include "repo/local_repository.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {

struct App::Parts {
  config::Config cfg;
  std::shared_ptr<storage::FsBlobStore> blobs;
  std::shared_ptr<storage::SqliteMetadataStore> meta;
  std::shared_ptr<repo::UploadStore> uploads;
  std::shared_ptr<repo::RepositoryRegistry> registry;
  std::shared_ptr<auth::SecurityService> security;
  std::unique_ptr<api::Api> api;
  std::unique_ptr<http::Server> server;
  // Hourly upkeep (expired uploads), stopped with the server.
  std::mutex upkeep_mu;
  std::condition_variable upkeep_cv;
  bool stopping = false;
  std::thread upkeep;
};

App::App(config::Config cfg) : parts_(std::make_unique<Parts>()) {
  auto& p = *parts_;
  p.cfg = std::move(cfg);
  storage::Paths paths(p.cfg.storage.root);
  p.blobs = std::make_shared<storage::FsBlobStore>(paths);
  p.meta = std::make_shared<storage::SqliteMetadataStore>(paths.metadataDb());
  p.uploads = std::make_shared<repo::UploadStore>(paths, p.meta, p.blobs);
  if (p.blobs->tempFilesRemovedAtStart() > 0)
    spdlog::info("removed {} temporary files left by an earlier run", p.blobs->tempFilesRemovedAtStart());
  int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - int64_t(p.cfg.storage.upload_expiry_hours) * 3600;
  if (auto purged = p.uploads->purgeOlderThan(cutoff); purged > 0) spdlog::info("purged {} expired uploads", purged);
  if (auto orphans = p.uploads->removeOrphanFiles(); orphans > 0)
    spdlog::info("removed {} upload files without a session", orphans);

  p.registry = std::make_shared<repo::RepositoryRegistry>();
  for (const auto& r : p.cfg.repositories)
    p.registry->add(std::make_shared<repo::LocalRepository>(r, p.blobs, p.meta, p.uploads));
  auth::AccessControllerPtr access;
  if (p.cfg.security.enabled) {
    auto store = std::make_shared<auth::SecurityStore>(paths.metadataDb());
    p.security = std::make_shared<auth::SecurityService>(p.cfg, store);
    access = auth::makeEnforcing(p.security);
  } else {
    spdlog::warn("no security section in the configuration: this registry is open to everyone");
    access = auth::makeAllowAll();
  }
  p.api = std::make_unique<api::Api>(p.registry, access, p.security);

  auto hp = config::parseListen(p.cfg.server.listen);
  http::ServerOptions opts;
  if (p.cfg.server.tls.enabled()) {
    opts.tls = std::make_shared<http::TlsContext>(p.cfg.server.tls.cert, p.cfg.server.tls.key);
    opts.redirect_plain_http = p.cfg.server.tls.redirect_plain_http;
  }
  opts.host = hp.host;
  opts.port = hp.port;
  opts.max_connections = p.cfg.server.max_connections;
  opts.connection.idle_timeout_seconds = p.cfg.server.idle_timeout_seconds;
  opts.connection.read_timeout_seconds = p.cfg.server.read_timeout_seconds;
  opts.connection.trusted_proxies = http::TrustedProxies::fromStrings(p.cfg.server.trusted_proxies);
  http::ExchangeObserver observer;
  if (p.cfg.log.access_log) observer = observe::logAccess;
  api::Api* api = p.api.get();
  p.server = std::make_unique<http::Server>(opts, [api](http::Exchange& ex) { api->handle(ex); }, observer);
  p.server->listen();
}

App::~App() {
  {
    std::lock_guard lock(parts_->upkeep_mu);
    parts_->stopping = true;
  }
  parts_->upkeep_cv.notify_all();
  if (parts_->upkeep.joinable()) parts_->upkeep.join();
}

std::string App::address() const { return parts_->server->boundAddress(); }

void App::serve() {
  auto& p = *parts_;
  p.upkeep = std::thread([&p] {
    std::unique_lock lock(p.upkeep_mu);
    while (!p.upkeep_cv.wait_for(lock, std::chrono::hours(1), [&p] { return p.stopping; })) {
      int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - int64_t(p.cfg.storage.upload_expiry_hours) * 3600;
      if (auto n = p.uploads->purgeOlderThan(cutoff); n > 0) spdlog::info("purged {} expired uploads", n);
    }
  });
  p.server->serve();
}

std::size_t App::stop() { return parts_->server->stop(parts_->cfg.server.shutdown_grace_seconds); }

}  // namespace berth::server

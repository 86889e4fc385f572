#include "ops/reload_plan.h"

#include <algorithm>
#include <tuple>

namespace berth::ops {
namespace {

const config::Repository* findKey(const std::vector<config::Repository>& repos, const std::string& key) {
  for (const auto& r : repos)
    if (r.key == key) return &r;
  return nullptr;
}

auto fields(const config::Local& l) { return std::tie(l.max_unique_tags, l.protected_tags); }
auto fields(const config::Remote& r) {
  return std::tie(r.url, r.username, r.password, r.metadata_ttl_seconds, r.offline, r.timeout_seconds, r.ca_file,
                  r.max_blob_bytes, r.foreign_layers.enabled, r.foreign_layers.include, r.cache_retention_hours);
}
auto fields(const config::Virtual& v) {
  return std::tie(v.repositories, v.default_deployment_repo, v.resolve_tags_by_latest_timestamp);
}

}  // namespace

bool sameRepositorySettings(const config::Repository& a, const config::Repository& b) {
  return std::tie(a.key, a.type, a.description, a.port) == std::tie(b.key, b.type, b.description, b.port) &&
         fields(a.local) == fields(b.local) && fields(a.remote) == fields(b.remote) && fields(a.virt) == fields(b.virt);
}

RepositoryPlan planRepositories(const std::vector<config::Repository>& before,
                                const std::vector<config::Repository>& after) {
  RepositoryPlan plan;
  for (const auto& r : after) {
    const auto* old = findKey(before, r.key);
    if (!old)
      plan.added.push_back(r.key);
    else if (sameRepositorySettings(*old, r))
      plan.kept.push_back(r.key);
    else
      plan.changed.push_back(r.key);
  }
  for (const auto& r : before)
    if (!findKey(after, r.key)) plan.removed.push_back(r.key);
  return plan;
}

std::vector<std::string> keysNeedingRestart(const config::Config& a, const config::Config& b) {
  std::vector<std::string> out;
  auto check = [&out](const char* key, const auto& x, const auto& y) {
    if (!(x == y)) out.emplace_back(key);
  };
  // The listeners, the worker pool and the front end's limits are set up
  // once, when the server starts.
  check("server.listen", a.server.listen, b.server.listen);
  check("server.tls.cert", a.server.tls.cert, b.server.tls.cert);
  check("server.tls.key", a.server.tls.key, b.server.tls.key);
  check("server.tls.redirect_plain_http", a.server.tls.redirect_plain_http, b.server.tls.redirect_plain_http);
  check("server.workers", a.server.workers, b.server.workers);
  check("server.max_connections", a.server.max_connections, b.server.max_connections);
  check("server.max_connections_per_client", a.server.max_connections_per_client,
        b.server.max_connections_per_client);
  check("server.header_timeout_seconds", a.server.header_timeout_seconds, b.server.header_timeout_seconds);
  check("server.idle_timeout_seconds", a.server.idle_timeout_seconds, b.server.idle_timeout_seconds);
  check("server.read_timeout_seconds", a.server.read_timeout_seconds, b.server.read_timeout_seconds);
  check("server.min_body_bytes_per_second", a.server.min_body_bytes_per_second, b.server.min_body_bytes_per_second);
  check("server.shutdown_grace_seconds", a.server.shutdown_grace_seconds, b.server.shutdown_grace_seconds);
  check("server.shutdown_delay_seconds", a.server.shutdown_delay_seconds, b.server.shutdown_delay_seconds);
  check("server.max_buffered_body_bytes", a.server.max_buffered_body_bytes, b.server.max_buffered_body_bytes);
  check("server.trusted_proxies", a.server.trusted_proxies, b.server.trusted_proxies);
  check("server.subdomain_base", a.server.subdomain_base, b.server.subdomain_base);
  check("log.level", a.log.level, b.log.level);
  check("log.format", a.log.format, b.log.format);
  check("log.access_log", a.log.access_log, b.log.access_log);
  // The storage root, its database and the upload store open once.
  check("storage.root", a.storage.root, b.storage.root);
  check("storage.upload_expiry_hours", a.storage.upload_expiry_hours, b.storage.upload_expiry_hours);
  check("storage.max_uploads_per_repository", a.storage.max_uploads_per_repository,
        b.storage.max_uploads_per_repository);
  check("storage.max_uploads_per_user", a.storage.max_uploads_per_user, b.storage.max_uploads_per_user);
  check("storage.metadata_sync", a.storage.metadata_sync, b.storage.metadata_sync);
  check("storage.upload_cache_mib", a.storage.upload_cache_mib, b.storage.upload_cache_mib);
  check("storage.ready_min_free_bytes", a.storage.ready_min_free_bytes, b.storage.ready_min_free_bytes);
  check("storage.min_free_bytes", a.storage.min_free_bytes, b.storage.min_free_bytes);
  check("gc.interval_minutes", a.gc.interval_minutes, b.gc.interval_minutes);
  check("gc.grace_period_minutes", a.gc.grace_period_minutes, b.gc.grace_period_minutes);
  check("gc.upload_ttl_hours", a.gc.upload_ttl_hours, b.gc.upload_ttl_hours);
  check("metrics.enabled", a.metrics.enabled, b.metrics.enabled);
  check("metrics.listen", a.metrics.listen, b.metrics.listen);
  check("metrics.require_permission", a.metrics.require_permission, b.metrics.require_permission);
  // With or without security, a different access controller is wired in;
  // the login throttle is sized once.
  check("security", a.security.enabled, b.security.enabled);
  check("security.failed_logins_before_delay", a.security.failed_logins_before_delay,
        b.security.failed_logins_before_delay);
  // A repository's own port is not here: a reload opens and closes those
  // listeners (http::Server::setRepositoryListeners).
  return out;
}

}  // namespace berth::ops

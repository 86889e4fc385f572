// Plain configuration structs. Loaded once at startup (exceptions allowed
// there), then read-only and shared by every component.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "berth/auth/model.h"
#include "berth/config_error.h"

namespace berth::config {

struct Tls {
  std::string cert;  // PEM certificate chain; TLS is on when both are set
  std::string key;   // PEM private key
  bool redirect_plain_http = false;  // plain HTTP on the TLS port: 301 to https (else refused with 400)
  bool enabled() const { return !cert.empty() && !key.empty(); }
};

struct Server {
  std::string listen = "0.0.0.0:5000";
  Tls tls;
  // Threads that run request handlers (and so the blocking disk and SQLite
  // work); 0 picks 4 per core, at least 8. Waiting on a client costs none.
  unsigned workers = 0;
  unsigned max_connections = 16384;           // all clients together; beyond, 503
  unsigned max_connections_per_client = 512;  // one client address; beyond, 503
  unsigned header_timeout_seconds = 30;       // the whole request header must arrive in this time
  unsigned idle_timeout_seconds = 120;        // a keep-alive connection idle this long is closed
  // Bodies and responses must move at least min_body_bytes_per_second,
  // judged over the last read_timeout_seconds; slower clients are cut.
  unsigned read_timeout_seconds = 60;
  unsigned min_body_bytes_per_second = 1024;
  unsigned shutdown_grace_seconds = 30;
  // SIGTERM/SIGINT: /health/ready answers 503 at once, but the listeners stay
  // open and serve this long before the graceful stop begins, so that a load
  // balancer polling readiness stops sending new requests first. A second
  // signal cuts the delay short. 0: stop at once.
  unsigned shutdown_delay_seconds = 0;
  // Request bodies held in memory at once (manifests, JSON), all requests
  // together; over it a request gets 429. Upload bodies stream to disk.
  uint64_t max_buffered_body_bytes = 64ull * 1024 * 1024;
  // CIDR blocks (IPv4 or IPv6) of reverse proxies whose X-Forwarded-For and
  // X-Forwarded-Proto headers are believed; from anyone else they are ignored.
  std::vector<std::string> trusted_proxies;
  // A DNS name under which each repository has a subdomain: a request whose
  // Host is <repoKey>.<subdomain_base> addresses that repository as /v2/<image>/...
  // ("" = off). Artifactory's subdomain method, without a reverse proxy.
  std::string subdomain_base;
};

struct Log {
  std::string level = "info";
  std::string format = "json";
  bool access_log = true;
};

struct Storage {
  std::string root = "./data";
  unsigned upload_expiry_hours = 168;          // uploads idle this long are purged
  unsigned max_uploads_per_repository = 1000;  // open upload sessions; 0 = no limit
  unsigned max_uploads_per_user = 100;         // ditto, anonymous callers counting as one user
  std::string metadata_sync = "full";          // full | normal: when a metadata commit is durable
  unsigned upload_cache_mib = 2048;            // newest uploaded data kept in the page cache; 0 = none
  // /health/ready answers 503 while the storage root's filesystem has less
  // free space than this (for an unprivileged user); 0 = not checked.
  uint64_t ready_min_free_bytes = 64ull * 1024 * 1024;
  // Pushes (uploads, manifest PUTs) answer 507 DENIED while the free space
  // is below this; pulls go on. 0 = off.
  uint64_t min_free_bytes = 0;
};

// GET /metrics (docs/operations.md).
struct Metrics {
  bool enabled = true;
  std::string listen;               // "host:port" of a listener of its own; "" = the main listener
  bool require_permission = false;  // on the main listener: administrators only (else anyone)
};

// Garbage collection (docs/lifecycle.md, "Garbage collection").
struct Gc {
  unsigned interval_minutes = 60;      // periodic runs in the daemon; 0 = none
  unsigned grace_period_minutes = 60;  // blobs installed or linked this recently are kept
  unsigned upload_ttl_hours = 24;      // upload files idle this long are removed
};

enum class RepoType { Local, Remote, Virtual };

// A remote repository: a caching pull-through proxy of another registry.
struct Remote {
  std::string url = "https://registry-1.docker.io";  // no trailing '/'; may carry a path prefix
  std::string username;  // upstream credentials (a ${NAME} reference or BERTH_REPOSITORIES_<KEY>_PASSWORD keeps them out of the file)
  std::string password;
  unsigned metadata_ttl_seconds = 21600;  // how long a tag -> digest answer is trusted
  bool offline = false;                   // serve only what is cached
  // Cached manifests nobody pulled for this long are evicted by the next GC
  // run, their tags and layer links with them (docs/remote-repositories.md). 0 = kept for ever.
  unsigned cache_retention_hours = 0;
  unsigned timeout_seconds = 60;          // connect and idle-read timeout towards the upstream
  std::string ca_file;                    // extra PEM CA bundle for the upstream
  // No blob is fetched beyond this many bytes (an upstream that sends a body
  // without end must not fill the disk); a blob of known size is held to it.
  uint64_t max_blob_bytes = uint64_t(64) << 30;
  struct ForeignLayers {
    bool enabled = false;                     // fetch and cache layers whose descriptors carry `urls`
    std::vector<std::string> include{"**"};   // Ant-style patterns the URL must match
  } foreign_layers;
};

// A virtual repository: one URL over other repositories (docs/virtual-repositories.md).
struct Virtual {
  std::vector<std::string> repositories;  // members, in resolution order; virtual members allowed
  std::string default_deployment_repo;    // a local member (direct or nested) pushes go to; empty = none
  bool resolve_tags_by_latest_timestamp = false;
};

// A local repository's tag retention (docs/lifecycle.md).
struct Local {
  unsigned max_unique_tags = 0;             // tags kept per image; the oldest go first; 0 = no limit
  std::vector<std::string> protected_tags;  // never removed by max_unique_tags (they still count)
};

struct Repository {
  std::string key;
  RepoType type = RepoType::Local;
  std::string description;
  // A listener of its own (server.listen's host, same TLS) where
  // /v2/<image>/... addresses this repository: what docker's registry-mirrors
  // and containerd's hosts.toml point at. 0: none. Any repository type may
  // have one, as with Artifactory's "port" access method.
  unsigned port = 0;
  Local local;     // type == Local only
  Remote remote;   // type == Remote only
  Virtual virt;    // type == Virtual only
  int line = 0;    // where it is defined in the config file (1-based; 0 = unknown), for messages
};

// A config without a `security` section serves an open registry, as
// registry:2 does; with one, every request is authenticated and authorized.
struct Security {
  bool enabled = false;
  bool anonymous_access = true;
  bool force_authentication_all = false;
  std::vector<std::string> force_authentication_repos;
  unsigned token_expiry_seconds = 300;
  unsigned failed_logins_before_delay = 5;  // per (user, client address), then 429 with back-off
  std::vector<auth::User> users;
  std::vector<auth::Group> groups;
  std::vector<auth::Permission> permissions;
};

struct Config {
  Server server;
  Security security;
  Log log;
  Storage storage;
  Gc gc;
  std::vector<Repository> repositories;
  Metrics metrics;
};

// The default compiled into the binary (config/berth.yml).
std::string_view embeddedDefaultYaml();

// Parses YAML text, expands ${NAME} references, applies the BERTH_<KEY PATH>
// environment overrides (docs/configuration.md) and validates. Throws a
// ConfigError (berth/config_error.h) listing every problem, each naming its
// key and its line and column or environment variable.
Config loadFromString(const std::string& yaml_text, const std::string& origin);
Config loadFromFile(const std::string& path);
Config loadDefault();

// host and port of server.listen; throws on a malformed value.
struct HostPort { std::string host; uint16_t port; };
HostPort parseListen(const std::string& listen);

}  // namespace berth::config

#include "observe/metrics.h"

#include "observe/gc_metrics.h"

#include <cstdio>

namespace berth::observe {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(RouteLabel::kCount)> kRouteNames{
    "unmatched", "base", "catalog", "repo_catalog", "blob", "upload_start", "upload", "manifest", "tags",
    "referrers", "token", "auth_config", "security", "promote", "repo_path", "ping", "health", "metrics", "storage_gc",
    "system_reload", "repositories"};
constexpr std::array<std::string_view, static_cast<std::size_t>(FamilyLabel::kCount)> kFamilyNames{
    "v2", "artifactory", "token", "security", "system", "other"};
constexpr std::array<std::string_view, static_cast<std::size_t>(AuthFailure::kCount)> kAuthNames{
    "malformed", "bad_credentials", "bad_token", "throttled", "denied", "insufficient_scope"};
constexpr std::array<std::string_view, static_cast<std::size_t>(CacheKind::kCount)> kCacheNames{"blob", "manifest"};
constexpr std::array<std::string_view, static_cast<std::size_t>(RefusedReason::kCount)> kRefusedNames{
    "max_connections", "max_connections_per_client", "out_of_resources"};

uint64_t load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

void sampleSigned(std::string& out, std::string_view name, int64_t v) {
  out += name;
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

std::string label(std::string_view k, std::string_view v) {
  std::string s(k);
  s += "=\"";
  s += v;  // every value is one of the fixed names above: nothing to escape
  s += '"';
  return s;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

// Process-wide, like metrics(): the collector runs at most once at a time.
struct GcSeries {
  std::atomic<uint64_t> runs_ok{0}, runs_failed{0}, blobs_freed{0}, bytes_freed{0};
  std::atomic<int64_t> last_success{0};
  Histogram duration;
};

GcSeries& gcSeries() {
  static GcSeries* g = new GcSeries();  // never destroyed, as metrics()
  return *g;
}

void renderGcMetrics(std::string& out) {
  const auto& g = gcSeries();
  header(out, "berth_gc_runs_total", "counter", "Garbage collection runs (dry runs not counted), by outcome.");
  sample(out, "berth_gc_runs_total", label("outcome", "ok"), load(g.runs_ok));
  sample(out, "berth_gc_runs_total", label("outcome", "failed"), load(g.runs_failed));
  header(out, "berth_gc_freed_blobs_total", "counter", "Blobs deleted by garbage collection.");
  sample(out, "berth_gc_freed_blobs_total", {}, load(g.blobs_freed));
  header(out, "berth_gc_freed_bytes_total", "counter", "Bytes of blobs deleted by garbage collection.");
  sample(out, "berth_gc_freed_bytes_total", {}, load(g.bytes_freed));
  header(out, "berth_gc_duration_seconds", "histogram", "Time a garbage collection run took.");
  g.duration.render(out, "berth_gc_duration_seconds", {});
  // 0 until a run succeeds in this process; alert on failures (docs/operations.md).
  header(out, "berth_gc_last_success_timestamp_seconds", "gauge", "When the last successful run ended (Unix time).");
  sampleSigned(out, "berth_gc_last_success_timestamp_seconds", g.last_success.load(std::memory_order_relaxed));
}

}  // namespace

std::string_view routeName(RouteLabel r) { return kRouteNames[static_cast<std::size_t>(r)]; }
std::string_view familyName(FamilyLabel f) { return kFamilyNames[static_cast<std::size_t>(f)]; }

FamilyLabel familyOf(std::string_view path, RouteLabel route) {
  if (route == RouteLabel::Token || route == RouteLabel::AuthConfig) return FamilyLabel::Token;
  if (route == RouteLabel::Ping || route == RouteLabel::Health || route == RouteLabel::Metrics ||
      route == RouteLabel::StorageGc || route == RouteLabel::SystemReload || route == RouteLabel::Repositories)
    return FamilyLabel::System;
  if (route == RouteLabel::Security) return FamilyLabel::Security;
  if (path == "/v2" || path.starts_with("/v2/")) return FamilyLabel::V2;
  if (path.starts_with("/artifactory/") || path.starts_with("/api/docker/")) return FamilyLabel::Artifactory;
  if (path.starts_with("/api/system/")) return FamilyLabel::System;
  return FamilyLabel::Other;
}

RouteLabel systemRouteOf(std::string_view path) {
  if (path == "/metrics") return RouteLabel::Metrics;
  if (path == "/health/live" || path == "/health/ready") return RouteLabel::Health;
  if (path == "/api/system/ping" || path == "/artifactory/api/system/ping") return RouteLabel::Ping;
  return RouteLabel::Unmatched;
}

void Histogram::observe(double s) {
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  if (i < kBounds.size()) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(s > 0 ? static_cast<uint64_t>(s * 1e6) : 0, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  // Read the count first: buckets recorded after it may make a bucket
  // exceed it by a little, never +Inf fall below the last bucket.
  uint64_t count = load(count_);
  std::string bucket_name = std::string(name) + "_bucket";
  std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += load(buckets_[i]);
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBounds[i]);
    sample(out, bucket_name, prefix + label("le", le), std::min(cumulative, count));
  }
  sample(out, bucket_name, prefix + label("le", "+Inf"), count);
  out += name;
  out += "_sum";
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += seconds(double(load(sum_micros_)) / 1e6);
  out += '\n';
  sample(out, std::string(name) + "_count", labels, count);
}

std::size_t Metrics::methodIndex(std::string_view m) {
  for (std::size_t i = 0; i + 1 < kMethods.size(); ++i)
    if (kMethods[i] == m) return i;
  return kMethods.size() - 1;
}

std::size_t Metrics::statusIndex(int status) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  return kStatuses.size();
}

void Metrics::observeRequest(FamilyLabel family, RouteLabel route, std::string_view method, int status,
                             uint64_t bytes_in, uint64_t bytes_out, double secs) {
  std::size_t f = idx(family), r = idx(route);
  add(requests_[seriesIndex(f, r, methodIndex(method), statusIndex(status))]);
  latency_[f * kRoutes + r].observe(secs);
  if (bytes_in) add(bytes_in_[f], bytes_in);
  if (bytes_out) add(bytes_out_[f], bytes_out);
}

uint64_t Metrics::requests(FamilyLabel f, RouteLabel r, std::string_view method, int status) const {
  return load(requests_[seriesIndex(idx(f), idx(r), methodIndex(method), statusIndex(status))]);
}

void Metrics::setStored(uint64_t blobs, uint64_t bytes) {
  stored_blobs_.store(blobs, std::memory_order_relaxed);
  stored_bytes_.store(bytes, std::memory_order_relaxed);
  stored_known_.store(true, std::memory_order_release);
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(16 * 1024);

  header(out, "berth_http_requests_total", "counter", "Requests answered, by URL family, route, method and status.");
  for (std::size_t f = 0; f < kFamilies; ++f)
    for (std::size_t r = 0; r < kRoutes; ++r)
      for (std::size_t m = 0; m < kMethods.size(); ++m)
        for (std::size_t s = 0; s < kStatusSlots; ++s) {
          uint64_t v = load(requests_[seriesIndex(f, r, m, s)]);
          if (v == 0) continue;
          std::string status = s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other";
          sample(out, "berth_http_requests_total",
                 label("family", kFamilyNames[f]) + "," + label("route", kRouteNames[r]) + "," +
                     label("method", kMethods[m]) + "," + label("status", status),
                 v);
        }

  header(out, "berth_http_request_duration_seconds", "histogram",
         "Time from a complete request header to the end of the response, by URL family and route.");
  for (std::size_t f = 0; f < kFamilies; ++f)
    for (std::size_t r = 0; r < kRoutes; ++r) {
      const auto& h = latency_[f * kRoutes + r];
      if (h.count() == 0) continue;
      h.render(out, "berth_http_request_duration_seconds",
               label("family", kFamilyNames[f]) + "," + label("route", kRouteNames[r]));
    }

  header(out, "berth_http_received_bytes_total", "counter", "Request body bytes received, by URL family.");
  for (std::size_t f = 0; f < kFamilies; ++f)
    sample(out, "berth_http_received_bytes_total", label("family", kFamilyNames[f]), load(bytes_in_[f]));
  header(out, "berth_http_sent_bytes_total", "counter", "Response body bytes sent, by URL family.");
  for (std::size_t f = 0; f < kFamilies; ++f)
    sample(out, "berth_http_sent_bytes_total", label("family", kFamilyNames[f]), load(bytes_out_[f]));

  header(out, "berth_connections_open", "gauge", "Client connections open now.");
  sampleSigned(out, "berth_connections_open", connections_open_.load(std::memory_order_relaxed));
  header(out, "berth_connections_refused_total", "counter", "Connections refused at accept, by reason.");
  for (std::size_t i = 0; i < refused_.size(); ++i)
    sample(out, "berth_connections_refused_total", label("reason", kRefusedNames[i]), load(refused_[i]));

  header(out, "berth_uploads_in_progress", "gauge", "Blob upload sessions open in this process.");
  sampleSigned(out, "berth_uploads_in_progress", uploads_.load(std::memory_order_relaxed));

  // Until the startup count has finished, the stored figures are absent
  // rather than wrong.
  if (stored_known_.load(std::memory_order_acquire)) {
    int64_t blobs = int64_t(load(stored_blobs_) + load(blobs_added_)) - int64_t(load(blobs_removed_));
    int64_t bytes = int64_t(load(stored_bytes_) + load(bytes_added_)) - int64_t(load(bytes_removed_));
    header(out, "berth_storage_blobs", "gauge", "Blob files in the store.");
    sampleSigned(out, "berth_storage_blobs", std::max<int64_t>(blobs, 0));
    header(out, "berth_storage_bytes", "gauge", "Bytes of blob files in the store.");
    sampleSigned(out, "berth_storage_bytes", std::max<int64_t>(bytes, 0));
  }
  header(out, "berth_storage_quota_refusals_total", "counter",
         "Pushes refused because free space was below storage.min_free_bytes.");
  sample(out, "berth_storage_quota_refusals_total", {}, load(quota_refusals_));

  header(out, "berth_remote_cache_hits_total", "counter", "Remote repository reads served from the cache.");
  for (std::size_t i = 0; i < cache_hits_.size(); ++i)
    sample(out, "berth_remote_cache_hits_total", label("kind", kCacheNames[i]), load(cache_hits_[i]));
  header(out, "berth_remote_cache_misses_total", "counter", "Remote repository reads that asked the upstream.");
  for (std::size_t i = 0; i < cache_misses_.size(); ++i)
    sample(out, "berth_remote_cache_misses_total", label("kind", kCacheNames[i]), load(cache_misses_[i]));
  header(out, "berth_remote_upstream_errors_total", "counter",
         "Upstream requests that failed: no usable answer, or an error status.");
  sample(out, "berth_remote_upstream_errors_total", {}, load(upstream_errors_));
  header(out, "berth_remote_upstream_duration_seconds", "histogram",
         "Time to an upstream's response header (failures included).");
  upstream_latency_.render(out, "berth_remote_upstream_duration_seconds", {});

  renderGcMetrics(out);

  header(out, "berth_auth_failures_total", "counter", "Requests refused by authentication or authorization, by kind.");
  for (std::size_t i = 0; i < auth_failures_.size(); ++i)
    sample(out, "berth_auth_failures_total", label("kind", kAuthNames[i]), load(auth_failures_[i]));
  return out;
}

void recordGcRun(bool ok, uint64_t blobs_freed, uint64_t bytes_freed, double seconds, int64_t ended_unix) {
  auto& g = gcSeries();
  (ok ? g.runs_ok : g.runs_failed).fetch_add(1, std::memory_order_relaxed);
  g.blobs_freed.fetch_add(blobs_freed, std::memory_order_relaxed);
  g.bytes_freed.fetch_add(bytes_freed, std::memory_order_relaxed);
  g.duration.observe(seconds);
  if (ok) g.last_success.store(ended_unix, std::memory_order_relaxed);
}

Metrics& metrics() {
  // Never destroyed: worker threads may still record while the process exits.
  static Metrics* m = new Metrics();
  return *m;
}

}  // namespace berth::observe

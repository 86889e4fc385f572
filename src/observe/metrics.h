// Prometheus metrics: fixed series, updated with relaxed atomics.
//
// Every series is known up front (the label sets are small enums and a fixed
// list of statuses and methods), so recording is an array index and an atomic
// add: no lock, no allocation on the request path. render() writes the text
// exposition format (version 0.0.4) by reading every counter once; it takes no
// lock either, and skips request series that are still zero.
//
// One process-wide instance: metrics(). Tests may make their own.
// Light on purpose: included by src/http, src/auth, src/repo and src/storage.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::observe {

// What a request addressed. The API sets it once it has matched a route; the
// front end's own answers and unknown paths stay Unmatched.
enum class RouteLabel : uint8_t {
  Unmatched, Base, Catalog, RepoCatalog, Blob, UploadStart, Upload, Manifest, Tags, Referrers,
  Token, AuthConfig, Security, Promote, RepoPath, Ping, Health, Metrics, StorageGc, SystemReload,
  Repositories, kCount
};
// The URL family: /v2, Artifactory's /[artifactory/]api/docker/<key>/v2 and
// REST paths, the token endpoints, /api/security, the system endpoints.
enum class FamilyLabel : uint8_t { V2, Artifactory, Token, Security, System, Other, kCount };
enum class AuthFailure : uint8_t {
  Malformed,          // an Authorization header that cannot be read
  BadCredentials,     // wrong user name or password (Basic)
  BadToken,           // a bearer or access token refused
  Throttled,          // too many failed logins: refused without checking
  Denied,             // identified, but not allowed (403)
  InsufficientScope,  // a token that does not cover the request (401)
  kCount
};
enum class CacheKind : uint8_t { Blob, Manifest, kCount };
enum class RefusedReason : uint8_t { TooManyTotal, TooManyFromClient, OutOfResources, kCount };

template <class E>
constexpr std::size_t idx(E e) {
  return static_cast<std::size_t>(e);
}

std::string_view routeName(RouteLabel r);
std::string_view familyName(FamilyLabel f);
// The family of a request path (the route decides for the token endpoints).
FamilyLabel familyOf(std::string_view path, RouteLabel route);
// Routes answered before the API (health, ping, metrics), by path.
RouteLabel systemRouteOf(std::string_view path);

// Fixed buckets, in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,   1,    2.5,   10,   60};
  void observe(double seconds);
  // Appends the _bucket, _sum and _count lines; `labels` is `k="v",...` or empty.
  void render(std::string& out, std::string_view name, std::string_view labels) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};  // not cumulative; summed on render
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  static constexpr std::array<std::string_view, 8> kMethods{"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS",
                                                            "other"};
  static constexpr std::array<int, 28> kStatuses{200, 201, 202, 204, 206, 301, 302, 304, 307, 308,
                                                 400, 401, 403, 404, 405, 408, 409, 411, 413, 416,
                                                 429, 431, 500, 501, 502, 503, 504, 507};
  static constexpr std::size_t kStatusSlots = kStatuses.size() + 1;  // the last: any other status

  // One finished exchange.
  void observeRequest(FamilyLabel family, RouteLabel route, std::string_view method, int status, uint64_t bytes_in,
                      uint64_t bytes_out, double seconds);

  void connectionOpened() { connections_open_.fetch_add(1, std::memory_order_relaxed); }
  void connectionClosed() { connections_open_.fetch_sub(1, std::memory_order_relaxed); }
  void connectionRefused(RefusedReason why) { add(refused_[idx(why)]); }

  void uploadStarted() { uploads_.fetch_add(1, std::memory_order_relaxed); }
  void uploadEnded() { uploads_.fetch_sub(1, std::memory_order_relaxed); }

  // Blob files in the store: a startup count (setStored) plus what was
  // installed and removed since.
  void blobInstalled(uint64_t size) {
    add(blobs_added_);
    add(bytes_added_, size);
  }
  void blobRemoved(uint64_t size) {
    add(blobs_removed_);
    add(bytes_removed_, size);
  }
  void setStored(uint64_t blobs, uint64_t bytes);

  void cacheLookup(CacheKind kind, bool hit) { add(hit ? cache_hits_[idx(kind)] : cache_misses_[idx(kind)]); }
  void upstreamError() { add(upstream_errors_); }
  void upstreamLatency(double seconds) { upstream_latency_.observe(seconds); }

  void authFailure(AuthFailure kind) { add(auth_failures_[idx(kind)]); }
  void quotaRefused() { add(quota_refusals_); }

  // The exposition text. Lock-free; a few tens of microseconds.
  std::string render() const;

  // For tests.
  uint64_t requests(FamilyLabel f, RouteLabel r, std::string_view method, int status) const;

 private:
  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  static std::size_t methodIndex(std::string_view m);
  static std::size_t statusIndex(int status);
  static constexpr std::size_t kFamilies = idx(FamilyLabel::kCount), kRoutes = idx(RouteLabel::kCount);
  static std::size_t seriesIndex(std::size_t f, std::size_t r, std::size_t m, std::size_t s) {
    return ((f * kRoutes + r) * kMethods.size() + m) * kStatusSlots + s;
  }

  std::array<std::atomic<uint64_t>, kFamilies * kRoutes * kMethods.size() * kStatusSlots> requests_{};
  std::array<Histogram, kFamilies * kRoutes> latency_{};
  std::array<std::atomic<uint64_t>, kFamilies> bytes_in_{}, bytes_out_{};
  std::atomic<int64_t> connections_open_{0};
  std::array<std::atomic<uint64_t>, idx(RefusedReason::kCount)> refused_{};
  std::atomic<int64_t> uploads_{0};
  std::atomic<bool> stored_known_{false};
  std::atomic<uint64_t> stored_blobs_{0}, stored_bytes_{0};
  std::atomic<uint64_t> blobs_added_{0}, bytes_added_{0}, blobs_removed_{0}, bytes_removed_{0};
  std::array<std::atomic<uint64_t>, idx(CacheKind::kCount)> cache_hits_{}, cache_misses_{};
  std::atomic<uint64_t> upstream_errors_{0};
  Histogram upstream_latency_;
  std::array<std::atomic<uint64_t>, idx(AuthFailure::kCount)> auth_failures_{};
  std::atomic<uint64_t> quota_refusals_{0};
};

// The process's metrics.
Metrics& metrics();

}  // namespace berth::observe

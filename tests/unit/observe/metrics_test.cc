#include "observe/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace berth::observe {
namespace {

// name{labels} -> value, for every sample line; checks each line's shape.
std::map<std::string, std::string> samples(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="[^"\\]*")(,[a-z_]+="[^"\\]*")*\})? (\S+)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, kComment)) << line;
      continue;
    }
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, kSample)) << line;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

TEST(Metrics, RequestsAreCountedByFamilyRouteMethodAndStatus) {
  auto m = std::make_unique<Metrics>();
  m->observeRequest(FamilyLabel::V2, RouteLabel::Blob, "GET", 200, 0, 1000, 0.002);
  m->observeRequest(FamilyLabel::V2, RouteLabel::Blob, "GET", 200, 0, 24, 0.2);
  m->observeRequest(FamilyLabel::Artifactory, RouteLabel::Manifest, "PUT", 201, 500, 0, 0.01);
  m->observeRequest(FamilyLabel::V2, RouteLabel::Base, "BREW", 418, 0, 0, 0.0);
  auto s = samples(m->render());
  EXPECT_EQ(s[R"(berth_http_requests_total{family="v2",route="blob",method="GET",status="200"})"], "2");
  EXPECT_EQ(s[R"(berth_http_requests_total{family="artifactory",route="manifest",method="PUT",status="201"})"], "1");
  // Methods and statuses outside the fixed lists share one series each.
  EXPECT_EQ(s[R"(berth_http_requests_total{family="v2",route="base",method="other",status="other"})"], "1");
  EXPECT_EQ(s[R"(berth_http_sent_bytes_total{family="v2"})"], "1024");
  EXPECT_EQ(s[R"(berth_http_received_bytes_total{family="artifactory"})"], "500");
  EXPECT_EQ(m->requests(FamilyLabel::V2, RouteLabel::Blob, "GET", 200), 2u);
  // Series never used are not written.
  EXPECT_EQ(s.count(R"(berth_http_requests_total{family="v2",route="tags",method="GET",status="200"})"), 0u);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  auto m = std::make_unique<Metrics>();
  for (double secs : {0.0005, 0.003, 0.003, 0.7, 120.0})
    m->observeRequest(FamilyLabel::V2, RouteLabel::Manifest, "GET", 200, 0, 0, secs);
  auto s = samples(m->render());
  const std::string base = R"(berth_http_request_duration_seconds_bucket{family="v2",route="manifest",le=")";
  EXPECT_EQ(s[base + R"(0.001"})"], "1");
  EXPECT_EQ(s[base + R"(0.005"})"], "3");
  EXPECT_EQ(s[base + R"(0.5"})"], "3");
  EXPECT_EQ(s[base + R"(1"})"], "4");
  EXPECT_EQ(s[base + R"(60"})"], "4");
  EXPECT_EQ(s[base + R"(+Inf"})"], "5");
  EXPECT_EQ(s[R"(berth_http_request_duration_seconds_count{family="v2",route="manifest"})"], "5");
  EXPECT_NEAR(std::stod(s[R"(berth_http_request_duration_seconds_sum{family="v2",route="manifest"})"]), 120.7065,
              1e-4);
}

TEST(Metrics, GaugesAndCountersOfTheOtherParts) {
  auto m = std::make_unique<Metrics>();
  m->connectionOpened();
  m->connectionOpened();
  m->connectionClosed();
  m->connectionRefused(RefusedReason::TooManyFromClient);
  m->uploadStarted();
  m->cacheLookup(CacheKind::Blob, true);
  m->cacheLookup(CacheKind::Manifest, false);
  m->upstreamError();
  m->upstreamLatency(0.03);
  m->authFailure(AuthFailure::BadCredentials);
  m->authFailure(AuthFailure::BadCredentials);
  m->quotaRefused();
  auto s = samples(m->render());
  EXPECT_EQ(s["berth_connections_open"], "1");
  EXPECT_EQ(s[R"(berth_connections_refused_total{reason="max_connections_per_client"})"], "1");
  EXPECT_EQ(s[R"(berth_connections_refused_total{reason="max_connections"})"], "0");
  EXPECT_EQ(s["berth_uploads_in_progress"], "1");
  EXPECT_EQ(s[R"(berth_remote_cache_hits_total{kind="blob"})"], "1");
  EXPECT_EQ(s[R"(berth_remote_cache_misses_total{kind="manifest"})"], "1");
  EXPECT_EQ(s["berth_remote_upstream_errors_total"], "1");
  EXPECT_EQ(s[R"(berth_remote_upstream_duration_seconds_bucket{le="0.05"})"], "1");
  EXPECT_EQ(s["berth_remote_upstream_duration_seconds_count"], "1");
  EXPECT_EQ(s[R"(berth_auth_failures_total{kind="bad_credentials"})"], "2");
  EXPECT_EQ(s["berth_storage_quota_refusals_total"], "1");
}

TEST(Metrics, StoredBlobsAppearOnceCountedAndFollowInstallsAndRemovals) {
  auto m = std::make_unique<Metrics>();
  m->blobInstalled(100);  // before the startup count ends: kept, not lost
  EXPECT_EQ(samples(m->render()).count("berth_storage_blobs"), 0u);
  m->setStored(10, 5000);
  m->blobInstalled(50);
  m->blobRemoved(30);
  auto s = samples(m->render());
  EXPECT_EQ(s["berth_storage_blobs"], "11");
  EXPECT_EQ(s["berth_storage_bytes"], "5120");
}

TEST(Metrics, EveryFamilyHasOneTypeLineAndHelp) {
  auto m = std::make_unique<Metrics>();
  m->observeRequest(FamilyLabel::V2, RouteLabel::Blob, "GET", 200, 0, 0, 0.001);
  m->observeRequest(FamilyLabel::Token, RouteLabel::Token, "GET", 200, 0, 0, 0.001);
  std::string text = m->render();
  std::istringstream in(text);
  std::string line;
  std::map<std::string, int> types;
  while (std::getline(in, line))
    if (line.starts_with("# TYPE ")) ++types[line.substr(7, line.find(' ', 7) - 7)];
  for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(types.count("berth_http_request_duration_seconds"), 1u);
  EXPECT_TRUE(text.ends_with("\n"));
}

TEST(Metrics, ConcurrentRecordingLosesNothing) {
  auto m = std::make_unique<Metrics>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m->observeRequest(FamilyLabel::V2, RouteLabel::Blob, "HEAD", 200, 1, 2, 0.001);
    });
  // Scrapes while they record: consistent text, no lock.
  for (int i = 0; i < 20; ++i) samples(m->render());
  for (auto& t : threads) t.join();
  EXPECT_EQ(m->requests(FamilyLabel::V2, RouteLabel::Blob, "HEAD", 200), 40000u);
}

TEST(Metrics, FamilyOfAPath) {
  EXPECT_EQ(familyOf("/v2/docker-local/alpine/manifests/1", RouteLabel::Manifest), FamilyLabel::V2);
  EXPECT_EQ(familyOf("/artifactory/api/docker/k/v2/a/manifests/1", RouteLabel::Manifest), FamilyLabel::Artifactory);
  EXPECT_EQ(familyOf("/api/docker/k/v2/a/blobs/x", RouteLabel::Blob), FamilyLabel::Artifactory);
  EXPECT_EQ(familyOf("/v2/token", RouteLabel::Token), FamilyLabel::Token);
  EXPECT_EQ(familyOf("/api/security/users", RouteLabel::Security), FamilyLabel::Security);
  EXPECT_EQ(familyOf("/metrics", RouteLabel::Metrics), FamilyLabel::System);
  EXPECT_EQ(familyOf("/favicon.ico", RouteLabel::Unmatched), FamilyLabel::Other);
  EXPECT_EQ(systemRouteOf("/health/ready"), RouteLabel::Health);
  EXPECT_EQ(systemRouteOf("/api/system/ping"), RouteLabel::Ping);
  EXPECT_EQ(systemRouteOf("/v2/"), RouteLabel::Unmatched);
}

}  // namespace
}  // namespace berth::observe

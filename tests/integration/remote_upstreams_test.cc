// Remote repositories against registries not written here: Debian's
// docker-registry (distribution 2.8.2) plain, with `auth: token` trusting a
// TokenIssuer of the test, and behind TLS with a CA of the test; and a second
// Berth with security on. Faults are in remote_faults_test.cc, tags, TTL and
// foreign layers in remote_metadata_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>

#include "integration/auth_support.h"
#include "integration/remote_support.h"
#include "integration/support/distribution_registry.h"
#include "integration/support/token_issuer.h"

namespace berth::it {
namespace {

using remoteit::Downstream;
using remoteit::expectPulls;
using remoteit::expectPullsAll;

// ---- distribution, plain ----

TEST(RemoteDistribution, ColdPullOfAnImageAndAnIndexThenServedWithTheUpstreamStopped) {
  DistributionRegistry registry;
  HttpClient to_registry = registry.client();
  ImageClient up(to_registry, "/v2/team/app");
  Image img = makeImage(mt::kDockerManifest, 3);
  pushImageTo(up, img, "v1");
  MultiArch multi = makeMultiArch(mt::kDockerList, 2, 2);
  pushMultiArch(up, multi, "multi");

  Downstream berth(registry.url());
  ImageClient app = berth.image("team/app");
  expectPulls(app, img, "v1");
  expectPullsAll(app, multi, "multi");

  registry.stop();
  expectPulls(app, img, "v1");
  expectPulls(app, img, img.manifest.digest);
  expectPullsAll(app, multi, "multi");
  // The cache is the storage: it survives a restart of Berth as well.
  berth.restart();
  expectPullsAll(app, multi, "multi");
}

// ---- distribution with `auth: token` ----

class RemoteTokenAuth : public ::testing::Test {
 protected:
  void push(const TokenIssuerOptions& o) {
    issuer_ = std::make_unique<TokenIssuer>(o);
    registry_ = std::make_unique<DistributionRegistry>(DistributionOptions{.token_auth = issuer_.get()});
    HttpClient http = registry_->client();
    authorize(http, {"repository:team/app:pull,push"}, "pusher", "secret");
    ImageClient up(http, "/v2/team/app");
    pushImageTo(up, img_, "v1");
    pushed_requests_ = issuer_->requests();
  }
  // Token requests since the push, and who made them.
  std::vector<TokenRequest> pullRequests() const {
    auto log = issuer_->log();
    return {log.begin() + pushed_requests_, log.end()};
  }

  Image img_ = makeImage(mt::kOciManifest, 3);
  std::unique_ptr<TokenIssuer> issuer_;
  std::unique_ptr<DistributionRegistry> registry_;
  int pushed_requests_ = 0;
};

TEST_F(RemoteTokenAuth, AnonymousPullThroughTheHandshakeWithTheTokenCached) {
  push({.users = {{"pusher", "secret"}}});
  Downstream berth(registry_->url());
  ImageClient app = berth.image("team/app");
  expectPulls(app, img_, "v1");
  auto asked = pullRequests();
  ASSERT_EQ(asked.size(), 1u) << "one token for the scope, reused for every request";
  EXPECT_EQ(asked[0].user, "");
  EXPECT_EQ(asked[0].service, issuer_->service());
  EXPECT_EQ(asked[0].scopes, std::vector<std::string>{"repository:team/app:pull"});
  EXPECT_EQ(asked[0].status, 200);
  // Another tag, another manifest: the cached token still does.
  Image other = makeImage(mt::kOciManifest, 1);
  HttpClient http = registry_->client();
  authorize(http, {"repository:team/app:pull,push"}, "pusher", "secret");
  ImageClient up(http, "/v2/team/app");
  pushImageTo(up, other, "v2");
  int before = issuer_->requests();
  expectPulls(app, other, "v2");
  EXPECT_EQ(issuer_->requests(), before);
}

TEST_F(RemoteTokenAuth, ConfiguredCredentialsFromTheEnvironment) {
  push({.users = {{"pusher", "secret"}, {"puller", "pull-pw"}}, .require_credentials = true});
  ::setenv("BERTH_IT_UPSTREAM_PASSWORD", "pull-pw", 1);
  Downstream berth(registry_->url(), "username: puller, password: \"${BERTH_IT_UPSTREAM_PASSWORD}\"");
  ::unsetenv("BERTH_IT_UPSTREAM_PASSWORD");
  expectPulls(berth.image("team/app"), img_, "v1");
  auto asked = pullRequests();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].user, "puller");
  EXPECT_EQ(asked[0].status, 200);
  EXPECT_EQ(berth.daemon().log().find("pull-pw"), std::string::npos) << "credentials are never logged";
}

TEST_F(RemoteTokenAuth, WrongCredentialsAreUnavailableWithoutLeakingThem) {
  push({.users = {{"pusher", "secret"}}, .require_credentials = true});
  Downstream berth(registry_->url(), "username: pusher, password: not-the-password");
  Response r = berth.image("team/app").getManifest("v1");
  EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << r.describe();
  EXPECT_NE(r.body.find(registry_->hostPort()), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("not-the-password"), std::string::npos);
  EXPECT_EQ(berth.daemon().log().find("not-the-password"), std::string::npos);
}

// ---- TLS ----

TEST(RemoteTls, TrustsTheUpstreamThroughCaFileAndRefusesItWithout) {
  DistributionRegistry registry({.tls = true});
  HttpClient to_registry = registry.client();
  ImageClient up(to_registry, "/v2/app");
  Image img = makeImage(mt::kOciManifest, 2);
  pushImageTo(up, img, "v1");

  Downstream berth(registry.url(), "ca_file: \"" + registry.caFile() + "\"",
                   {remoteit::remoteYaml("untrusted", registry.url())});
  expectPulls(berth.image("app"), img, "v1");

  Response refused = berth.image("app", "untrusted").getManifest("v1");
  EXPECT_TRUE(isApiError(refused, 503, "UNAVAILABLE")) << refused.describe();
  EXPECT_NE(refused.body.find(registry.hostPort()), std::string::npos) << refused.body;
  Response blob = berth.image("app", "untrusted").getBlob(img.layers[0].digest);
  EXPECT_EQ(blob.status, 503) << blob.describe();
  EXPECT_EQ(berth.http().get("/v2/").status, 200);  // still serving
  EXPECT_TRUE(berth.daemon().running());
}

// ---- Berth with security on ----

TEST(RemoteBerth, ASecuredBerthWithCredentials) {
  Daemon upstream(DaemonOptions{{"docker-local", "docker-dev", "docker-prod"}});
  authit::SecurityOptions security;
  security.anonymous_access = false;
  writeFile(upstream.configPath(), authit::configYaml(security, upstream.storageRoot()));
  upstream.start();
  HttpClient to_upstream(upstream.host(), upstream.port());
  authorize(to_upstream, {"repository:docker-dev/app:pull,push"}, "deployer", authit::pw("deployer"));
  ImageClient up(to_upstream, "/v2/docker-dev/app");
  Image img = makeImage(mt::kDockerManifest, 2);
  pushImageTo(up, img, "v1");
  MultiArch multi = makeMultiArch(mt::kOciIndex, 2, 1);
  pushMultiArch(up, multi, "multi");

  std::string url = "http://" + upstream.host() + ":" + std::to_string(upstream.port());
  Downstream berth(url, "username: reader, password: " + authit::pw("reader"),
                   {remoteit::remoteYaml("anonymous", url)});
  ImageClient app = berth.image("docker-dev/app");
  expectPulls(app, img, "v1");
  expectPullsAll(app, multi, "multi");

  // Without credentials its token service refuses: unavailable, naming it.
  Response refused = berth.image("docker-dev/app", "anonymous").getManifest("v1");
  EXPECT_TRUE(isApiError(refused, 503, "UNAVAILABLE")) << refused.describe();
  EXPECT_NE(refused.body.find(upstream.host() + ":" + std::to_string(upstream.port())), std::string::npos);

  EXPECT_EQ(upstream.stop(), 0);
  expectPulls(app, img, "v1");
  expectPullsAll(app, multi, "multi");
  EXPECT_EQ(berth.daemon().log().find(authit::pw("reader")), std::string::npos);
}

}  // namespace
}  // namespace berth::it

// The embedded default configuration: Artifactory's Docker quick setup
// (docker-local, docker-remote of Docker Hub, docker over both). Docker Hub
// is never reached from a test: the daemon's HTTPS_PROXY is a loopback port
// where nothing listens, which is what an offline machine looks like to it.
#include <gtest/gtest.h>

#include <chrono>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class DefaultConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DaemonOptions o;
    o.embedded_config = true;
    const std::string nowhere = "http://127.0.0.1:" + std::to_string(freeLoopbackPort());
    o.environment = {"HTTPS_PROXY=" + nowhere, "https_proxy=" + nowhere, "HTTP_PROXY=" + nowhere,
                     "http_proxy=" + nowhere, "NO_PROXY=", "no_proxy="};
    daemon_ = std::make_unique<Daemon>(o);
    daemon_->start();
    http_.retarget(daemon_->host(), daemon_->port());
  }
  void TearDown() override { finishDaemon(*daemon_, http_, HasFailure()); }
  authit::As admin() {
    std::string password = readFile(daemon_->storageRoot() + "/initial-admin-password");
    while (!password.empty() && password.back() == '\n') password.pop_back();
    return authit::As(http_, {{"Authorization", authit::basic("admin", password)}});
  }

  std::unique_ptr<Daemon> daemon_;
  HttpClient http_{"127.0.0.1", 0};
};

TEST_F(DefaultConfigTest, PushThroughDockerLandsInDockerLocalAndAnyonePullsIt) {
  Image image = makeImage();
  auto pushed = admin().pushImage("/v2/docker/alpine", image, "3");
  ASSERT_EQ(pushed.status, 201) << pushed.describe();
  authit::As anonymous(http_, {});
  EXPECT_EQ(anonymous.getManifest("/v2/docker-local/alpine", "3").status, 200);
  auto start = std::chrono::steady_clock::now();
  auto m = anonymous.getManifest("/v2/docker/alpine", "3");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "a local hit waited for Docker Hub";
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.header("Docker-Content-Digest"), image.manifest.digest);
  EXPECT_EQ(anonymous.getBlob("/v2/docker/alpine", image.layers[0].digest).body, image.layers[0].bytes);
}

TEST_F(DefaultConfigTest, OfflineTheRemoteAnswersUnavailableAndTheVirtualKeySaysSo) {
  authit::As anonymous(http_, {});
  auto remote = anonymous.getManifest("/v2/docker-remote/library/alpine", "3");
  EXPECT_API_ERROR(remote, 503, "UNAVAILABLE");
  auto through = anonymous.getManifest("/v2/docker/alpine", "3");
  EXPECT_API_ERROR(through, 503, "UNAVAILABLE");
  EXPECT_NE(through.body.find("registry-1.docker.io"), std::string::npos) << "names the upstream: " << through.body;
}

}  // namespace
}  // namespace berth::it

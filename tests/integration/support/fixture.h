// The fixture most integration tests derive from: a fresh daemon per test
// (docker-local and docker-dev), a keep-alive client, and ImageClients for
// docker-local/app and docker-dev/app.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration/support/daemon.h"
#include "integration/support/http_client.h"
#include "integration/support/registry.h"

namespace berth::it {

// Stops the daemon (expecting exit code 0) and prints its log if the test failed.
void finishDaemon(Daemon& daemon, HttpClient& http, bool failed);

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() = default;
  explicit RegistryTest(DaemonOptions options) : daemon_(std::move(options)) {}

  void SetUp() override;
  // Stops the daemon (expecting exit code 0); prints its log if the test failed.
  void TearDown() override;

  // Graceful restart, or kill -9 and start; the clients follow the new port.
  void restartDaemon();
  void crashAndRestart();

  // Another client (for other threads or a second connection).
  HttpClient newClient() const { return HttpClient(daemon_.host(), daemon_.port()); }
  ImageClient image(const std::string& url) { return ImageClient(http_, url); }

  // Content files of the blob store, and the path a digest's content lives at.
  std::vector<std::string> blobFiles() const { return filesUnder(daemon_.storageRoot() + "/blobs"); }
  std::string blobPath(const std::string& digest) const;
  std::vector<std::string> tmpFiles() const { return filesUnder(daemon_.storageRoot() + "/tmp"); }
  std::vector<std::string> uploadFiles() const { return filesUnder(daemon_.storageRoot() + "/uploads"); }

  Daemon daemon_;
  HttpClient http_{"127.0.0.1", 0};
  ImageClient local_{http_, "/v2/docker-local/app"};
  ImageClient dev_{http_, "/v2/docker-dev/app"};
};

// Status, a JSON error body and its first code (for methods other than HEAD).
::testing::AssertionResult isApiError(const Response& r, int status, const std::string& code);
#define EXPECT_API_ERROR(response, status, code) EXPECT_TRUE(::berth::it::isApiError((response), (status), (code)))

}  // namespace berth::it

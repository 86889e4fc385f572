#include "integration/support/fixture.h"

#include <filesystem>
#include <iostream>

namespace berth::it {

void RegistryTest::SetUp() {
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
}

void finishDaemon(Daemon& daemon, HttpClient& http, bool failed) {
  http.close();
  if (daemon.running()) {
    try {
      EXPECT_EQ(daemon.stop(), 0) << "berth should exit 0 on SIGTERM";
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  if (failed || ::testing::Test::HasFailure())
    std::cerr << "---- berth log (" << daemon.dir() << ") ----\n" << daemon.log() << "----\n";
}

void RegistryTest::TearDown() { finishDaemon(daemon_, http_, HasFailure()); }

void RegistryTest::restartDaemon() {
  http_.close();
  daemon_.restart();
  http_.retarget(daemon_.host(), daemon_.port());
}

void RegistryTest::crashAndRestart() {
  http_.close();
  daemon_.kill9();
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
}

std::string RegistryTest::blobPath(const std::string& digest) const {
  std::string hex = digest.substr(digest.find(':') + 1);
  return daemon_.storageRoot() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex;
}

::testing::AssertionResult isApiError(const Response& r, int status, const std::string& code) {
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << "; expected " << status << " " << code << ", got " << r.describe();
  };
  if (r.status != status) return fail("wrong status");
  auto j = r.json();
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
    return fail("the body is not {\"errors\":[...]}");
  for (const auto& e : j["errors"])
    if (!e.contains("code") || !e["code"].is_string() || !e.contains("message") || !e["message"].is_string())
      return fail("an error lacks a string code or message");
  if (r.errorCode() != code) return fail("wrong error code");
  if (!r.header("Content-Type").starts_with("application/json")) return fail("Content-Type is not application/json");
  return ::testing::AssertionSuccess();
}

}  // namespace berth::it

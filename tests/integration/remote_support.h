// Helpers for the remote-repository tests against other upstreams
// (remote_upstreams_test.cc, remote_faults_test.cc, remote_metadata_test.cc):
// a Berth whose `docker-remote` repository proxies a given URL, and checks
// that an image pulls through it byte for byte.
//
// Header-only on purpose, like auth_support.h: it adds nothing to the shared
// support library.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/fixture.h"
#include "integration/support/upstream_content.h"

namespace berth::it::remoteit {

// "{key: <key>, type: remote, url: "<url>"<, extra>}"
inline std::string remoteYaml(const std::string& key, const std::string& url, const std::string& extra = {}) {
  return "{key: " + key + ", type: remote, url: \"" + url + "\"" + (extra.empty() ? "" : ", " + extra) + "}";
}

// A Berth with a local repository and one remote, docker-remote, over `url`
// (more remotes through `more`). Started by the constructor; stopped by
// finish() (expecting exit code 0, printing its log when the test failed).
class Downstream {
 public:
  Downstream(const std::string& url, const std::string& extra = {}, std::vector<std::string> more = {})
      : daemon_(options(url, extra, std::move(more))) {
    daemon_.start();
    http_ = std::make_unique<HttpClient>(daemon_.host(), daemon_.port());
  }
  ~Downstream() { finish(); }

  void finish() {
    if (daemon_.running()) finishDaemon(daemon_, *http_, ::testing::Test::HasFailure());
  }
  void restart() {
    daemon_.restart();
    http_->retarget(daemon_.host(), daemon_.port());
  }

  Daemon& daemon() { return daemon_; }
  HttpClient& http() { return *http_; }
  HttpClient newClient() const { return HttpClient(daemon_.host(), daemon_.port()); }
  // docker-remote/<name> (or another remote's key/<name>).
  ImageClient image(const std::string& name, const std::string& key = "docker-remote") {
    return ImageClient(*http_, "/v2/" + key + "/" + name);
  }

 private:
  static DaemonOptions options(const std::string& url, const std::string& extra, std::vector<std::string> more) {
    DaemonOptions o;
    o.repositories = {"docker-local"};
    o.log_level = "info";
    o.repository_yaml = {remoteYaml("docker-remote", url, extra)};
    for (auto& m : more) o.repository_yaml.push_back(std::move(m));
    return o;
  }
  Daemon daemon_;
  std::unique_ptr<HttpClient> http_;
};

// The manifest under ref, then its config and layers: the exact bytes,
// media type and digest that were pushed upstream.
inline void expectPulls(const ImageClient& image, const Image& img, const std::string& ref) {
  Response m = image.getManifest(ref);
  ASSERT_EQ(m.status, 200) << ref << ": " << m.describe();
  EXPECT_EQ(m.body, img.manifest.bytes);
  EXPECT_EQ(m.header("Docker-Content-Digest"), img.manifest.digest);
  EXPECT_EQ(m.header("Content-Type"), img.manifest.media_type);
  std::vector<const Blob*> blobs{&img.config};
  for (const auto& l : img.layers) blobs.push_back(&l);
  for (const Blob* b : blobs) {
    Response r = image.getBlob(b->digest);
    EXPECT_EQ(r.status, 200) << b->digest << ": " << r.describe();
    EXPECT_EQ(r.body, b->bytes) << b->digest;
  }
}

// The index under tag, then every child image by digest.
inline void expectPullsAll(const ImageClient& image, const MultiArch& multi, const std::string& tag) {
  Response index = image.getManifest(tag);
  ASSERT_EQ(index.status, 200) << index.describe();
  EXPECT_EQ(index.body, multi.index.bytes);
  EXPECT_EQ(index.header("Content-Type"), multi.index.media_type);
  EXPECT_EQ(index.header("Docker-Content-Digest"), multi.index.digest);
  for (const auto& img : multi.images) expectPulls(image, img, img.manifest.digest);
}

// Polls `done` every 10 ms for up to `limit`; whether it became true.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace berth::it::remoteit

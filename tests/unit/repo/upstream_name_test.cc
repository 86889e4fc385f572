// Upstream::upstreamName: Docker Hub keeps its official images under
// library/, so a one-segment name gets that prefix there and nowhere else.
// (An integration test cannot do this: a loopback upstream is never Docker
// Hub by host.)
#include <gtest/gtest.h>

#include "repo/remote/upstream.h"

namespace berth::repo::remote {
namespace {

Upstream upstreamAt(const std::string& url) {
  config::Remote r;
  r.url = url;
  return Upstream(r, nullptr);  // naming needs no client
}

TEST(UpstreamName, DockerHubGetsLibraryForOneSegmentNames) {
  Upstream hub = upstreamAt("https://registry-1.docker.io");
  EXPECT_TRUE(hub.isDockerHub());
  EXPECT_EQ(hub.upstreamName("alpine"), "library/alpine");
  EXPECT_EQ(hub.upstreamName("library/alpine"), "library/alpine");
  EXPECT_EQ(hub.upstreamName("bitnami/redis"), "bitnami/redis");
  EXPECT_EQ(hub.upstreamName("a/b/c"), "a/b/c");
}

TEST(UpstreamName, EverySpellingOfDockerHub) {
  for (const char* url : {"https://registry-1.docker.io/", "https://index.docker.io", "https://docker.io",
                          "https://registry.hub.docker.com", "https://registry-1.docker.io:443",
                          "https://Registry-1.Docker.IO", "http://registry-1.docker.io:80"}) {
    Upstream hub = upstreamAt(url);
    EXPECT_TRUE(hub.isDockerHub()) << url;
    EXPECT_EQ(hub.upstreamName("alpine"), "library/alpine") << url;
  }
}

TEST(UpstreamName, OtherRegistriesKeepTheName) {
  for (const char* url : {"https://ghcr.io", "https://quay.io", "http://127.0.0.1:5000", "https://mirror.gcr.io",
                          "https://registry-1.docker.io.example.com", "https://registry-1.docker.io:5000"}) {
    Upstream up = upstreamAt(url);
    EXPECT_FALSE(up.isDockerHub()) << url;
    EXPECT_EQ(up.upstreamName("alpine"), "alpine") << url;
  }
}

}  // namespace
}  // namespace berth::repo::remote

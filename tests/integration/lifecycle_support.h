// Helpers for the image lifecycle tests (promote_test.cc, lifecycle_delete_test.cc,
// max_unique_tags_test.cc, lifecycle_auth_test.cc): the promote request, and a
// snapshot of what repositories hold, to show that a refused request changed nothing.
//
// Header-only, like auth_support.h.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/support/http_client.h"
#include "integration/support/registry.h"

namespace berth::it::lifeit {

// POST <family>/api/docker/<source>/v2/promote with `body` as JSON.
inline Response promote(HttpClient& http, const std::string& source, const nlohmann::json& body,
                        Headers headers = {}, const std::string& family = "") {
  headers.set("Content-Type", "application/json");
  return http.post(family + "/api/docker/" + source + "/v2/promote", body.dump(), std::move(headers));
}

// Every image of every repository with its tags and what each tag names, and
// every manifest digest the tags reach: {"<key>/<image>": {"<tag>": "<digest>"}}.
inline nlohmann::json snapshot(HttpClient& http, const std::vector<std::string>& keys) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : keys) {
    auto catalog = http.get("/api/docker/" + key + "/v2/_catalog");
    EXPECT_EQ(catalog.status, 200) << catalog.describe();
    for (const auto& image : catalog.json().value("repositories", nlohmann::json::array())) {
      std::string name = image.get<std::string>();
      nlohmann::json tags = nlohmann::json::object();
      auto list = http.get("/v2/" + key + "/" + name + "/tags/list");
      for (const auto& t : list.json().value("tags", nlohmann::json::array())) {
        auto m = http.head("/v2/" + key + "/" + name + "/manifests/" + t.get<std::string>(),
                           {{"Accept", mt::kOciManifest + ", " + mt::kOciIndex + ", " + mt::kDockerManifest}});
        tags[t.get<std::string>()] = m.header("Docker-Content-Digest");
      }
      out[key + "/" + name] = tags;
    }
  }
  return out;
}

// The manifest under ref and every blob it names, byte for byte, from `image`.
inline void expectPulls(ImageClient& image, const Image& img, const std::string& ref) {
  auto m = image.getManifest(ref);
  ASSERT_EQ(m.status, 200) << image.url() << ":" << ref << " " << m.describe();
  EXPECT_EQ(m.body, img.manifest.bytes);
  EXPECT_EQ(m.header("Docker-Content-Digest"), img.manifest.digest);
  std::vector<const Blob*> blobs{&img.config};
  for (const auto& l : img.layers) blobs.push_back(&l);
  for (const Blob* b : blobs) {
    auto r = image.getBlob(b->digest);
    ASSERT_EQ(r.status, 200) << image.url() << " " << b->digest << " " << r.describe();
    EXPECT_EQ(r.body, b->bytes);
  }
}

// The manifest and none of the image's own layers are served by `image`.
inline void expectGone(ImageClient& image, const Image& img) {
  EXPECT_EQ(image.headManifest(img.manifest.digest).status, 404) << image.url();
  for (const auto& l : img.layers) EXPECT_EQ(image.headBlob(l.digest).status, 404) << image.url() << " " << l.digest;
}

}  // namespace berth::it::lifeit

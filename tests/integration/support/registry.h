// Registry-level helpers over HttpClient: digests, random blobs and images,
// and an ImageClient that speaks the distribution API for one image URL
// ("/v2/docker-local/app", "/api/docker/docker-local/v2/app", ...).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "integration/support/http_client.h"

namespace berth::it {

namespace mt {
inline const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline const std::string kOciIndex = "application/vnd.oci.image.index.v1+json";
inline const std::string kOciConfig = "application/vnd.oci.image.config.v1+json";
inline const std::string kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
inline const std::string kOciEmpty = "application/vnd.oci.empty.v1+json";
inline const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline const std::string kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline const std::string kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline const std::string kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline const std::string kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
}  // namespace mt

// "sha256:<hex>" of data.
std::string sha256Of(std::string_view data);
// n pseudo-random bytes (a per-thread generator seeded from std::random_device).
std::string randomBytes(std::size_t n);

struct Blob {
  std::string bytes, digest;
  static Blob of(std::string bytes);
  static Blob random(std::size_t size) { return of(randomBytes(size)); }
};

// A manifest as pushed: its exact bytes, their digest and media type.
struct Manifest {
  std::string media_type, bytes, digest;
  static Manifest of(std::string media_type, const nlohmann::json& doc);  // pretty-printed bytes
  nlohmann::json descriptor() const;  // {mediaType, digest, size}
};

// An image manifest with its config and layers, not pushed yet.
struct Image {
  Blob config;
  std::vector<Blob> layers;
  Manifest manifest;
};

// A random image. Docker media types for kDockerManifest, OCI otherwise;
// `extra` fields (artifactType, subject, annotations) are merged into the manifest.
Image makeImage(const std::string& manifest_type = mt::kOciManifest, int layer_count = 2,
                const nlohmann::json& extra = nlohmann::json::object());
// An OCI artifact (v1.1: an image manifest with artifactType and an empty config)
// whose subject is `subject`.
Image makeArtifact(const std::string& artifact_type, const Manifest& subject,
                   const nlohmann::json& annotations = nlohmann::json::object());
// An OCI index or Docker manifest list over the given manifests.
Manifest makeIndex(const std::vector<Manifest>& children, const std::string& media_type = mt::kOciIndex);

nlohmann::json descriptorOf(const std::string& media_type, const Blob& blob);

// url + "?query" or "&query".
std::string withQuery(const std::string& url, const std::string& query);
// The path (and query) of a Location value, whether absolute or not.
std::string pathOf(const std::string& location);

class ImageClient {
 public:
  ImageClient(HttpClient& http, std::string url) : http_(http), url_(std::move(url)) {}
  const std::string& url() const { return url_; }
  HttpClient& http() const { return http_; }

  // Uploads. These return the last response and do not assert.
  Response pushBlob(const std::string& bytes);  // monolithic POST ?digest=
  Response startUpload();                       // POST, no body
  Response patchChunk(const std::string& location, const std::string& chunk,
                      std::optional<uint64_t> range_start = std::nullopt);
  Response finishUpload(const std::string& location, const std::string& digest, const std::string& last_chunk = {});
  // POST, one PATCH per chunk, PUT ?digest= (carrying the last chunk when asked);
  // EXPECTs 202 for every step before the PUT.
  Response pushBlobInChunks(const std::string& bytes, std::size_t chunk_size, bool last_chunk_in_put = false);
  Response mount(const std::string& digest, const std::string& from);

  Response headBlob(const std::string& digest) const { return http_.head(url_ + "/blobs/" + digest); }
  Response getBlob(const std::string& digest, Headers headers = {}) const;
  Response deleteBlob(const std::string& digest) const { return http_.del(url_ + "/blobs/" + digest); }

  Response putManifest(const std::string& reference, const Manifest& m) const;
  Response putManifest(const std::string& reference, const std::string& bytes, const std::string& media_type) const;
  Response getManifest(const std::string& reference) const;  // Accepts every manifest type
  Response headManifest(const std::string& reference) const;
  Response deleteManifest(const std::string& reference) const { return http_.del(url_ + "/manifests/" + reference); }

  // Pushes config and layers (monolithic), then the manifest under reference
  // (its digest when empty). EXPECTs 201 for each.
  void pushImage(const Image& image, const std::string& reference = {});

  Response tags(const std::string& query = {}) const;
  Response referrers(const std::string& digest, const std::string& query = {}) const;

 private:
  HttpClient& http_;
  std::string url_;
};

}  // namespace berth::it

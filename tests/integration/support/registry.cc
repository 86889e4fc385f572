#include "integration/support/registry.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "berth/core/sha256.h"

namespace berth::it {

std::string sha256Of(std::string_view data) { return Sha256::of(data.data(), data.size()).str(); }

std::string randomBytes(std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return out;
}

Blob Blob::of(std::string bytes) {
  std::string digest = sha256Of(bytes);
  return {std::move(bytes), std::move(digest)};
}

Manifest Manifest::of(std::string media_type, const nlohmann::json& doc) {
  // Indented, so that a server that re-serialises the JSON is caught.
  std::string bytes = doc.dump(3);
  std::string digest = sha256Of(bytes);
  return {std::move(media_type), std::move(bytes), std::move(digest)};
}

nlohmann::json Manifest::descriptor() const {
  return {{"mediaType", media_type}, {"digest", digest}, {"size", bytes.size()}};
}

nlohmann::json descriptorOf(const std::string& media_type, const Blob& blob) {
  return {{"mediaType", media_type}, {"digest", blob.digest}, {"size", blob.bytes.size()}};
}

Image makeImage(const std::string& manifest_type, int layer_count, const nlohmann::json& extra) {
  const bool docker = manifest_type == mt::kDockerManifest;
  Image image;
  nlohmann::json diff_ids = nlohmann::json::array(), layers = nlohmann::json::array();
  for (int i = 0; i < layer_count; ++i) {
    image.layers.push_back(Blob::random(1024 + 512 * i));
    diff_ids.push_back(sha256Of(randomBytes(16)));
    layers.push_back(descriptorOf(docker ? mt::kDockerLayer : mt::kOciLayer, image.layers.back()));
  }
  nlohmann::json config{{"architecture", "amd64"}, {"os", "linux"}, {"created", "2024-01-01T00:00:00Z"},
                        {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  image.config = Blob::of(config.dump());
  nlohmann::json doc{{"schemaVersion", 2},
                     {"mediaType", manifest_type},
                     {"config", descriptorOf(docker ? mt::kDockerConfig : mt::kOciConfig, image.config)},
                     {"layers", layers}};
  doc.update(extra);
  image.manifest = Manifest::of(manifest_type, doc);
  return image;
}

Image makeArtifact(const std::string& artifact_type, const Manifest& subject, const nlohmann::json& annotations) {
  Image art;
  art.config = Blob::of("{}");
  art.layers.push_back(Blob::random(256));
  nlohmann::json doc{{"schemaVersion", 2},
                     {"mediaType", mt::kOciManifest},
                     {"artifactType", artifact_type},
                     {"config", descriptorOf(mt::kOciEmpty, art.config)},
                     {"layers", {descriptorOf("application/octet-stream", art.layers[0])}},
                     {"subject", subject.descriptor()}};
  if (!annotations.empty()) doc["annotations"] = annotations;
  art.manifest = Manifest::of(mt::kOciManifest, doc);
  return art;
}

Manifest makeIndex(const std::vector<Manifest>& children, const std::string& media_type) {
  nlohmann::json manifests = nlohmann::json::array();
  const char* archs[] = {"amd64", "arm64", "ppc64le", "s390x"};
  for (std::size_t i = 0; i < children.size(); ++i) {
    auto d = children[i].descriptor();
    d["platform"] = {{"architecture", archs[i % 4]}, {"os", "linux"}};
    manifests.push_back(d);
  }
  return Manifest::of(media_type, {{"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", manifests}});
}

std::string withQuery(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string pathOf(const std::string& location) {
  auto scheme = location.find("://");
  if (scheme == std::string::npos) return location;
  auto slash = location.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : location.substr(slash);
}

// ---- ImageClient ----

Response ImageClient::pushBlob(const std::string& bytes) {
  return http_.post(url_ + "/blobs/uploads/?digest=" + sha256Of(bytes), bytes,
                    {{"Content-Type", "application/octet-stream"}});
}

Response ImageClient::startUpload() { return http_.post(url_ + "/blobs/uploads/"); }

Response ImageClient::patchChunk(const std::string& location, const std::string& chunk,
                                 std::optional<uint64_t> range_start) {
  Headers h{{"Content-Type", "application/octet-stream"}};
  if (range_start) {
    uint64_t end = *range_start + chunk.size() - (chunk.empty() ? 0 : 1);
    h.add("Content-Range", std::to_string(*range_start) + "-" + std::to_string(end));
  }
  return http_.patch(pathOf(location), chunk, std::move(h));
}

Response ImageClient::finishUpload(const std::string& location, const std::string& digest,
                                   const std::string& last_chunk) {
  return http_.put(withQuery(pathOf(location), "digest=" + digest), last_chunk,
                   {{"Content-Type", "application/octet-stream"}});
}

Response ImageClient::pushBlobInChunks(const std::string& bytes, std::size_t chunk_size, bool last_chunk_in_put) {
  Response r = startUpload();
  EXPECT_EQ(r.status, 202) << r.describe();
  std::string location = r.header("Location");
  std::size_t offset = 0, put_from = bytes.size();
  if (last_chunk_in_put && !bytes.empty()) put_from = (bytes.size() - 1) / chunk_size * chunk_size;
  while (offset < put_from) {
    std::size_t n = std::min(chunk_size, put_from - offset);
    r = patchChunk(location, bytes.substr(offset, n));
    EXPECT_EQ(r.status, 202) << r.describe();
    location = r.header("Location");
    offset += n;
  }
  return finishUpload(location, sha256Of(bytes), bytes.substr(put_from));
}

Response ImageClient::mount(const std::string& digest, const std::string& from) {
  return http_.post(url_ + "/blobs/uploads/?mount=" + digest + "&from=" + from);
}

Response ImageClient::getBlob(const std::string& digest, Headers headers) const {
  return http_.get(url_ + "/blobs/" + digest, std::move(headers));
}

Response ImageClient::putManifest(const std::string& reference, const Manifest& m) const {
  return putManifest(reference, m.bytes, m.media_type);
}

Response ImageClient::putManifest(const std::string& reference, const std::string& bytes,
                                  const std::string& media_type) const {
  return http_.put(url_ + "/manifests/" + reference, bytes, {{"Content-Type", media_type}});
}

namespace {
Headers acceptAll() {
  return {{"Accept", mt::kOciManifest + ", " + mt::kOciIndex + ", " + mt::kDockerManifest + ", " + mt::kDockerList}};
}
}  // namespace

Response ImageClient::getManifest(const std::string& reference) const {
  return http_.get(url_ + "/manifests/" + reference, acceptAll());
}

Response ImageClient::headManifest(const std::string& reference) const {
  return http_.head(url_ + "/manifests/" + reference, acceptAll());
}

void ImageClient::pushImage(const Image& image, const std::string& reference) {
  std::vector<const Blob*> blobs{&image.config};
  for (const auto& layer : image.layers) blobs.push_back(&layer);
  for (const Blob* b : blobs) {
    auto r = pushBlob(b->bytes);
    EXPECT_EQ(r.status, 201) << "blob " << b->digest << " of " << url_ << ": " << r.describe();
  }
  auto r = putManifest(reference.empty() ? image.manifest.digest : reference, image.manifest);
  EXPECT_EQ(r.status, 201) << "manifest of " << url_ << ": " << r.describe();
}

Response ImageClient::tags(const std::string& query) const {
  return http_.get(query.empty() ? url_ + "/tags/list" : url_ + "/tags/list?" + query);
}

Response ImageClient::referrers(const std::string& digest, const std::string& query) const {
  std::string target = url_ + "/referrers/" + digest;
  return http_.get(query.empty() ? target : target + "?" + query);
}

}  // namespace berth::it

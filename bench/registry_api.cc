#include "registry_api.h"

#include <nlohmann/json.hpp>

#include "data.h"

namespace berth_bench {

namespace {

const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";
const std::string kOciConfig = "application/vnd.oci.image.config.v1+json";
const std::string kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
const std::string kDockerConfig = "application/vnd.docker.container.image.v1+json";
const std::string kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

}  // namespace

const std::string kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

Image makeImage(uint64_t seed, int layers, size_t layer_size, bool oci) {
  Image img;
  json diff_ids = json::array();
  for (int l = 0; l < layers; ++l) {
    Blob b;
    b.data = randomBytes(seed * 1000003ULL + static_cast<uint64_t>(l) + 1, layer_size);
    b.digest = sha256Of(b.data);
    diff_ids.push_back(b.digest);
    img.layers.push_back(std::move(b));
  }
  json cfg = {{"architecture", "amd64"},
              {"os", "linux"},
              {"created", "2024-01-01T00:00:00Z"},
              {"config", {{"Env", {"BENCH_SEED=" + std::to_string(seed)}}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  img.config.data = cfg.dump();
  img.config.digest = sha256Of(img.config.data);
  img.media_type = oci ? kOciManifest : kDockerManifest;
  json lj = json::array();
  for (auto& b : img.layers)
    lj.push_back({{"mediaType", oci ? kOciLayer : kDockerLayer}, {"size", b.data.size()}, {"digest", b.digest}});
  json m = {{"schemaVersion", 2},
            {"mediaType", img.media_type},
            {"config",
             {{"mediaType", oci ? kOciConfig : kDockerConfig},
              {"size", img.config.data.size()},
              {"digest", img.config.digest}}},
            {"layers", lj}};
  img.manifest = m.dump();
  img.manifest_digest = sha256Of(img.manifest);
  return img;
}

void expectRegistry(Conn& c) {
  Resp ping = c.send({.method = "GET", .target = "/v2/"});
  if (ping.status != 200 && ping.status != 401) fail("GET /v2/: " + describe(ping));
}

std::string startUpload(Conn& c, const std::string& repo) {
  Resp r = c.send({.method = "POST", .target = "/v2/" + repo + "/blobs/uploads/"});
  expectStatus(r, 202, "POST upload " + repo);
  auto loc = r.header("location");
  if (loc.empty()) fail("POST upload: no Location");
  return loc;
}

int pushMonolithic(Conn& c, const Target& t, const std::string& repo, const Pattern& pat, const std::string& digest) {
  std::string loc = pathOf(startUpload(c, repo), t);
  Resp r = c.send({.method = "PUT",
                   .target = withQuery(loc, "digest=" + digest),
                   .headers = {{"Content-Type", "application/octet-stream"}},
                   .stream = &pat,
                   .stream_len = pat.size()});
  expectStatus(r, 201, "PUT monolithic");
  return 2;
}

int pushSmallBlob(Conn& c, const Target& t, const std::string& repo, const Blob& b, bool head_first) {
  int n = 0;
  if (head_first) {
    ++n;
    Resp h = c.send({.method = "HEAD", .target = "/v2/" + repo + "/blobs/" + b.digest});
    if (h.status == 200) return n;
    expectStatus(h, 404, "HEAD blob");
  }
  std::string loc = pathOf(startUpload(c, repo), t);
  ++n;
  Resp r = c.send({.method = "PUT",
                   .target = withQuery(loc, "digest=" + b.digest),
                   .headers = {{"Content-Type", "application/octet-stream"}},
                   .body = b.data});
  ++n;
  expectStatus(r, 201, "PUT blob " + repo);
  return n;
}

int mountOrPush(Conn& c, const Target& t, const std::string& repo, const std::string& from, const Blob& b) {
  Resp r = c.send({.method = "POST",
                   .target = "/v2/" + repo + "/blobs/uploads/?mount=" + b.digest + "&from=" + urlEncode(from)});
  if (r.status == 201) return 1;
  expectStatus(r, 202, "POST mount " + repo);
  std::string loc = pathOf(r.header("location"), t);
  Resp p = c.send({.method = "PUT",
                   .target = withQuery(loc, "digest=" + b.digest),
                   .headers = {{"Content-Type", "application/octet-stream"}},
                   .body = b.data});
  expectStatus(p, 201, "PUT blob (mount fallback) " + repo);
  return 2;
}

int putManifest(Conn& c, const std::string& repo, const std::string& ref, const Image& img) {
  Resp r = c.send({.method = "PUT",
                   .target = "/v2/" + repo + "/manifests/" + ref,
                   .headers = {{"Content-Type", img.media_type}},
                   .body = img.manifest});
  expectStatus(r, 201, "PUT manifest " + repo + ":" + ref);
  auto d = r.header("docker-content-digest");
  if (!d.empty() && d != img.manifest_digest) fail("PUT manifest: digest " + d + " != " + img.manifest_digest);
  return 1;
}

int pushImage(Conn& c, const Target& t, const std::string& repo, const std::string& tag, const Image& img,
              bool head_first) {
  int n = 0;
  for (auto& b : img.layers) n += pushSmallBlob(c, t, repo, b, head_first);
  n += pushSmallBlob(c, t, repo, img.config, head_first);
  n += putManifest(c, repo, tag, img);
  return n;
}

void pushImageOnce(const Target& t, const std::string& repo, const std::string& tag, const Image& img) {
  Conn c(t);
  pushImage(c, t, repo, tag, img, true);
}

}  // namespace berth_bench

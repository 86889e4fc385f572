#include "integration/support/upstream_content.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "berth/core/sha256.h"
#include "integration/support/pki.h"

namespace berth::it {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

// ---- GeneratedBlob ----

GeneratedBlob::GeneratedBlob(uint64_t size, uint64_t seed) : size_(size), seed_(seed) {
  Sha256 hasher;
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < size_; off += buf.size()) {
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(buf.size(), size_ - off));
    fill(off, buf.data(), n);
    hasher.update(buf.data(), n);
  }
  digest_ = hasher.finish().str();
}

void GeneratedBlob::fill(uint64_t offset, char* out, std::size_t n) const {
  // Byte p is byte p % 8 of word p / 8, each word a hash of (seed, index).
  while (n > 0) {
    uint64_t word = splitmix64(seed_ * 0x100000001b3ULL ^ (offset / 8));
    std::size_t skip = offset % 8, take = std::min<std::size_t>(8 - skip, n);
    std::memcpy(out, reinterpret_cast<const char*>(&word) + skip, take);
    out += take;
    offset += take;
    n -= take;
  }
}

BodySource GeneratedBlob::source(uint64_t offset) const {
  return [this, offset](char* buf, std::size_t capacity) mutable -> std::size_t {
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(capacity, size_ - std::min(offset, size_)));
    fill(offset, buf, n);
    offset += n;
    return n;
  };
}

nlohmann::json GeneratedBlob::descriptor(const std::string& media_type) const {
  return {{"mediaType", media_type}, {"digest", digest_}, {"size", size_}};
}

// ---- URLs and challenges ----

Url parseUrl(const std::string& url) {
  Url u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw std::runtime_error("not an absolute URL: " + url);
  u.scheme = url.substr(0, scheme_end);
  auto host_start = scheme_end + 3, slash = url.find('/', host_start);
  std::string authority = url.substr(host_start, slash - host_start);
  u.target = slash == std::string::npos ? "/" : url.substr(slash);
  auto colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  u.port = colon == std::string::npos ? (u.scheme == "https" ? 443 : 80)
                                      : static_cast<uint16_t>(std::stoi(authority.substr(colon + 1)));
  if (u.host == "localhost") u.host = "127.0.0.1";
  return u;
}

Challenge parseChallenge(const std::string& header) {
  Challenge c;
  auto sp = header.find(' ');
  c.scheme = header.substr(0, sp);
  std::size_t pos = sp == std::string::npos ? header.size() : sp + 1;
  while (pos < header.size()) {
    auto eq = header.find('=', pos);
    if (eq == std::string::npos) break;
    std::string key = header.substr(pos, eq - pos), value;
    key.erase(0, key.find_first_not_of(" ,"));
    pos = eq + 1;
    if (pos < header.size() && header[pos] == '"') {
      auto close = header.find('"', pos + 1);
      value = header.substr(pos + 1, close - pos - 1);
      pos = close == std::string::npos ? header.size() : close + 1;
    } else {
      auto comma = header.find(',', pos);
      value = header.substr(pos, comma - pos);
      pos = comma == std::string::npos ? header.size() : comma;
    }
    c.params[key] = value;
    while (pos < header.size() && (header[pos] == ',' || header[pos] == ' ')) ++pos;
  }
  return c;
}

std::string authorize(HttpClient& http, const std::vector<std::string>& scopes, const std::string& user,
                      const std::string& password, const std::string& ca_file) {
  http.setDefaultHeaders({});
  Response r = http.get("/v2/");
  if (r.status == 200) return {};
  Challenge c = parseChallenge(r.header("WWW-Authenticate"));
  if (r.status != 401 || c.scheme.empty()) throw std::runtime_error("no challenge from /v2/: " + r.describe());
  std::string basic = "Basic " + base64Std(user + ":" + password);
  if (c.scheme == "Basic") {
    http.setDefaultHeaders({{"Authorization", basic}});
    return {};
  }
  Url realm = parseUrl(c.params["realm"]);
  std::string target = withQuery(realm.target, "service=" + urlEncode(c.params["service"]));
  for (const auto& s : scopes) target += "&scope=" + urlEncode(s);
  HttpClient issuer(realm.host, realm.port, false, SocketOptions{.tls_ca_file = realm.scheme == "https" ? ca_file : ""});
  Headers h;
  if (!user.empty()) h.add("Authorization", basic);
  Response t = issuer.get(target, h);
  auto body = t.json();
  std::string token = body.is_object() ? body.value("token", body.value("access_token", "")) : "";
  if (t.status != 200 || token.empty()) throw std::runtime_error("no token from " + c.params["realm"] + ": " + t.describe());
  http.setDefaultHeaders({{"Authorization", "Bearer " + token}});
  return token;
}

// ---- pushes ----

namespace {
// POST, then PUT ?digest= with the body as `req` carries it.
Response postThenPut(ImageClient& image, const std::string& digest, Request put) {
  Response r = image.startUpload();
  if (r.status != 202) return r;
  put.method = "PUT";
  put.target = withQuery(pathOf(r.header("Location")), "digest=" + digest);
  put.headers.add("Content-Type", "application/octet-stream");
  return image.http().send(put);
}
}  // namespace

Response uploadBlob(ImageClient& image, std::string_view bytes) {
  Request put;
  put.body = std::string(bytes);
  return postThenPut(image, sha256Of(bytes), std::move(put));
}

Response uploadBlob(ImageClient& image, const GeneratedBlob& blob) {
  Request put;
  put.source = blob.source();
  put.content_length = blob.size();
  return postThenPut(image, blob.digest(), std::move(put));
}

void pushImageTo(ImageClient& image, const Image& img, const std::string& tag) {
  std::vector<const Blob*> blobs{&img.config};
  for (const auto& layer : img.layers) blobs.push_back(&layer);
  for (const Blob* b : blobs) {
    Response r = uploadBlob(image, b->bytes);
    EXPECT_EQ(r.status, 201) << "blob " << b->digest << " to " << image.url() << ": " << r.describe();
  }
  Response r = image.putManifest(tag.empty() ? img.manifest.digest : tag, img.manifest);
  EXPECT_EQ(r.status, 201) << "manifest to " << image.url() << ": " << r.describe();
}

MultiArch makeMultiArch(const std::string& index_type, int platforms, int layers) {
  const std::string manifest_type = index_type == mt::kDockerList ? mt::kDockerManifest : mt::kOciManifest;
  MultiArch m;
  std::vector<Manifest> children;
  for (int i = 0; i < platforms; ++i) {
    m.images.push_back(makeImage(manifest_type, layers));
    children.push_back(m.images.back().manifest);
  }
  m.index = makeIndex(children, index_type);
  return m;
}

void pushMultiArch(ImageClient& image, const MultiArch& m, const std::string& tag) {
  for (const auto& img : m.images) pushImageTo(image, img);
  Response r = image.putManifest(tag, m.index);
  EXPECT_EQ(r.status, 201) << "index to " << image.url() << ": " << r.describe();
}

Image makeImageOver(const std::vector<nlohmann::json>& layers, const std::string& manifest_type) {
  const bool docker = manifest_type == mt::kDockerManifest;
  nlohmann::json diff_ids = nlohmann::json::array();
  for (std::size_t i = 0; i < layers.size(); ++i) diff_ids.push_back(sha256Of(randomBytes(16)));
  nlohmann::json config{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  Image img;
  img.config = Blob::of(config.dump());
  img.manifest = Manifest::of(manifest_type, {{"schemaVersion", 2},
                                              {"mediaType", manifest_type},
                                              {"config", descriptorOf(docker ? mt::kDockerConfig : mt::kOciConfig, img.config)},
                                              {"layers", layers}});
  return img;
}

PulledBlob pullHashed(HttpClient& http, const std::string& target, Headers headers) {
  Sha256 hasher;
  PulledBlob out;
  Request req;
  req.target = target;
  req.headers = std::move(headers);
  Response r = http.send(req, [&](const char* data, std::size_t n) {
    hasher.update(data, n);
    out.size += n;
  });
  out.status = r.status;
  out.headers = r.headers;
  out.digest = hasher.finish().str();
  return out;
}

}  // namespace berth::it

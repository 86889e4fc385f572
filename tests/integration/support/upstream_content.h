// Putting content into any registry (Berth, docker-registry, a ScriptedUpstream
// is filled directly) over HTTP: the credentials handshake, portable pushes
// (POST then PUT ?digest=, which every registry supports), multi-arch
// indexes, large generated blobs streamed without holding them in memory,
// and a pull that hashes as it reads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/support/http_client.h"
#include "integration/support/registry.h"

namespace berth::it {

// Bytes made from a seed, reproducible at any offset: a blob of any size that
// is never held in memory. Computing the digest reads it once. Immutable.
class GeneratedBlob {
 public:
  GeneratedBlob(uint64_t size, uint64_t seed);
  uint64_t size() const { return size_; }
  const std::string& digest() const { return digest_; }
  void fill(uint64_t offset, char* out, std::size_t n) const;
  // The bytes from offset to the end, for Request::source or a server.
  BodySource source(uint64_t offset = 0) const;
  nlohmann::json descriptor(const std::string& media_type = mt::kOciLayer) const;

 private:
  uint64_t size_, seed_;
  std::string digest_;
};

// "scheme://host:port/path?query" (a host of localhost means 127.0.0.1).
struct Url {
  std::string scheme, host;
  uint16_t port = 0;
  std::string target;  // path and query, "/" when empty
};
Url parseUrl(const std::string& url);

// A WWW-Authenticate challenge: scheme ("Bearer", "Basic") and its parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Challenge parseChallenge(const std::string& header);

// Answers a registry's challenge and makes `http` send the credentials with
// every request (HttpClient::setDefaultHeaders): GET /v2/; on a Bearer
// challenge a token for `scopes` ("repository:app:pull,push") from its realm,
// with Basic credentials when user is given (ca_file for an https realm); on
// Basic, the credentials themselves. Returns the token ("" when none).
// Throws when the handshake fails.
std::string authorize(HttpClient& http, const std::vector<std::string>& scopes, const std::string& user = {},
                      const std::string& password = {}, const std::string& ca_file = {});

// One blob as POST then PUT ?digest= carrying the bytes. Returns the PUT's answer
// (or the POST's when that was not 202).
Response uploadBlob(ImageClient& image, std::string_view bytes);
// The same, streaming a generated blob.
Response uploadBlob(ImageClient& image, const GeneratedBlob& blob);

// Config, layers and manifest (under tag, or its digest when empty) with
// uploadBlob; EXPECTs every step to succeed.
void pushImageTo(ImageClient& image, const Image& img, const std::string& tag = {});

// Two (or more) images and an index over them.
struct MultiArch {
  std::vector<Image> images;
  Manifest index;
};
MultiArch makeMultiArch(const std::string& index_type = mt::kOciIndex, int platforms = 2, int layers = 2);
// The images by digest, then the index under tag.
void pushMultiArch(ImageClient& image, const MultiArch& m, const std::string& tag);

// An image whose layers are these descriptors (e.g. GeneratedBlob::descriptor()
// or a foreign layer with `urls`), with a fresh config; Image::layers is empty,
// so pushImageTo pushes only the config and the manifest.
Image makeImageOver(const std::vector<nlohmann::json>& layers, const std::string& manifest_type = mt::kOciManifest);

// GET target, hashing the body as it arrives (nothing is kept).
struct PulledBlob {
  int status = 0;
  std::string digest;  // of the body received
  uint64_t size = 0;
  Headers headers;
};
PulledBlob pullHashed(HttpClient& http, const std::string& target, Headers headers = {});

}  // namespace berth::it

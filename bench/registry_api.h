// Registry (Distribution API) operations on a Conn: blob uploads and mounts,
// manifest puts, and the small synthetic images the scenarios push.
#pragma once

#include <string>
#include <vector>

#include "net.h"

namespace berth_bench {

extern const std::string kAcceptManifests;  // Accept header for a manifest GET/HEAD

struct Blob {
  std::string digest;
  std::string data;
};

struct Image {
  Blob config;
  std::vector<Blob> layers;
  std::string manifest, manifest_digest, media_type;
};

// `layers` layers of `layer_size` random bytes each; the same seed gives the same image.
Image makeImage(uint64_t seed, int layers, size_t layer_size, bool oci);

// GET /v2/: fails unless the server answers like a registry (200 or 401).
void expectRegistry(Conn& c);

// POST an upload session; returns its Location.
std::string startUpload(Conn& c, const std::string& repo);

// POST, then one PUT ?digest= streaming the whole pattern; fails unless 201. Returns requests made.
int pushMonolithic(Conn& c, const Target& t, const std::string& repo, const Pattern& pat, const std::string& digest);

// HEAD (optional), POST, PUT ?digest= with the body. Returns the number of requests made.
int pushSmallBlob(Conn& c, const Target& t, const std::string& repo, const Blob& b, bool head_first);

// Cross-repository mount, falling back to an upload. Returns requests made.
int mountOrPush(Conn& c, const Target& t, const std::string& repo, const std::string& from, const Blob& b);

// PUT the manifest as `ref`, checking the digest the server reports. Returns requests made.
int putManifest(Conn& c, const std::string& repo, const std::string& ref, const Image& img);

// Layers, config, manifest. Returns requests made.
int pushImage(Conn& c, const Target& t, const std::string& repo, const std::string& tag, const Image& img,
              bool head_first);

// pushImage (HEAD first) on a connection of its own.
void pushImageOnce(const Target& t, const std::string& repo, const std::string& tag, const Image& img);

}  // namespace berth_bench

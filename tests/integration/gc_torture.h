// The pieces of the GC torture test (gc_torture_test.cc): the shared layer
// pool, what the test knows each image holds (the model), the daemon's
// current address across kill -9 and restarts, and the checks that an image
// pulls byte for byte.
//
// Each worker owns its images (w<id>/a, w<id>/b, w<id>/c in both
// repositories): it is the only writer of their tags, so its model is exact
// for what the server acknowledged. Workers share the layer pool and mount
// from each other's images, which is where a collection could take a blob
// someone needs. Header-only, like lifecycle_support.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "integration/support/http_client.h"
#include "integration/support/registry.h"

namespace berth::it::torture {

using Rng = std::mt19937_64;

inline const std::vector<std::string> kRepos{"docker-local", "docker-dev"};
inline const std::vector<std::string> kImageSuffixes{"a", "b", "c"};
inline const std::vector<std::string> kTags{"t0", "t1", "t2", "t3"};

inline std::string bytesFrom(Rng& rng, std::size_t n) {
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}
inline bool chance(Rng& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// A manifest as the test pushed it: its bytes and what it references.
struct Content {
  std::string media_type, bytes;
  std::vector<std::string> blobs;     // config and layers
  std::vector<std::string> children;  // an index's manifests
};

// An image of a repository.
struct Key {
  std::string repo, image;
  auto operator<=>(const Key&) const = default;
  std::string str() const { return repo + "/" + image; }
  std::string url() const { return "/v2/" + repo + "/" + image; }
};
using TagMap = std::map<std::string, std::string>;  // tag -> manifest digest
using State = std::map<Key, TagMap>;

inline std::string describe(const TagMap& tags) {
  std::string out = "{";
  for (const auto& [t, d] : tags) out += (out.size() > 1 ? ", " : "") + t + ":" + d.substr(7, 12);
  return out + "}";
}

// Where the daemon listens now; gen grows with every restart.
struct Endpoint {
  std::mutex m;
  std::condition_variable cv;
  std::string host;
  uint16_t port = 0;
  uint64_t gen = 0;
  bool up = false;

  void publish(const std::string& h, uint16_t p) {
    std::lock_guard lock(m);
    host = h, port = p, ++gen, up = true;
    cv.notify_all();
  }
  void down() {
    std::lock_guard lock(m);
    up = false;
  }
  // Waits (at most timeout) until a daemon newer than `seen` is up; false on timeout.
  bool waitNewer(uint64_t seen, std::chrono::seconds timeout) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return up && gen > seen; });
  }
};

struct Failures {
  std::mutex m;
  std::vector<std::string> list;
  void add(std::string what) {
    std::lock_guard lock(m);
    list.push_back(std::move(what));
  }
  std::size_t size() {
    std::lock_guard lock(m);
    return list.size();
  }
};

// The Accept header for every manifest type the test pushes.
inline Headers acceptAll() { return {{"Accept", mt::kOciManifest + ", " + mt::kOciIndex}}; }

// Tags of an image as the server has them ({} for an unknown image). Throws
// on a transport failure; an unexpected answer is a failure in `why`.
inline TagMap serverTags(HttpClient& http, const Key& key, std::string& why) {
  TagMap out;
  auto list = http.get(key.url() + "/tags/list");
  if (list.status == 404) return out;
  if (list.status != 200) {
    why += "tags/list of " + key.str() + ": " + list.describe() + "\n";
    return out;
  }
  for (const auto& t : list.json().value("tags", nlohmann::json::array())) {
    std::string tag = t.get<std::string>();
    auto h = http.head(key.url() + "/manifests/" + tag, acceptAll());
    if (h.status == 404) continue;  // gone between the list and the HEAD: not ours to race, but harmless
    if (h.status != 200) why += "HEAD " + key.str() + ":" + tag + ": " + std::to_string(h.status) + "\n";
    else out[tag] = h.header("Docker-Content-Digest");
  }
  return out;
}

using ContentMap = std::map<std::string, Content>;
using BlobMap = std::map<std::string, std::string>;  // digest -> bytes

// "" when the manifest `digest` (and its children) and every blob they name
// pull from `key` byte for byte, digest-verified; else what is wrong. Throws on
// a transport failure.
inline std::string pullProblems(HttpClient& http, const Key& key, const std::string& ref, const std::string& digest,
                                const ContentMap& manifests, const BlobMap& blobs) {
  auto content = manifests.find(digest);
  if (content == manifests.end()) return key.str() + ":" + ref + ": the test never pushed " + digest + "\n";
  auto m = http.get(key.url() + "/manifests/" + ref, acceptAll());
  if (m.status != 200) return key.str() + ":" + ref + ": manifest " + m.describe() + "\n";
  std::string out;
  if (m.body != content->second.bytes || sha256Of(m.body) != digest)
    out += key.str() + ":" + ref + ": manifest bytes differ from " + digest + "\n";
  for (const auto& b : content->second.blobs) {
    auto r = http.get(key.url() + "/blobs/" + b);
    if (r.status != 200) out += key.str() + ": blob " + b + " of " + digest + ": " + r.describe() + "\n";
    else if (r.body != blobs.at(b) || sha256Of(r.body) != b) out += key.str() + ": blob " + b + " differs\n";
  }
  for (const auto& c : content->second.children) out += pullProblems(http, key, c, c, manifests, blobs);
  return out;
}

}  // namespace berth::it::torture

// One worker of the GC torture test: pushes (images and indexes over a shared
// layer pool, with cross-repository mounts), promotes, retags, deletes and
// pulls its own images, and keeps the model of what they hold. The model
// changes only when the server acknowledged an operation; an operation whose
// connection a kill -9 broke may or may not have happened, so after the
// restart the worker asks the server, which must show the images exactly as
// before the operation or exactly as after it (each is one transaction).
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "integration/gc_torture.h"

namespace berth::it::torture {

struct Stats {
  std::atomic<uint64_t> ops{0}, pushes{0}, indexes{0}, mounts{0}, mount_fallbacks{0}, promotions{0}, retags{0},
      deletes{0}, pulls{0}, blob_unknown_retries{0}, gave_up{0}, lost{0}, found_after{0}, found_before{0};
};

struct Pool {
  std::vector<std::string> digests;
  BlobMap blobs;
};

struct WorkerSetup {
  int id = 0, workers = 8;
  uint64_t seed = 0;
  std::chrono::milliseconds pause{20};
};

class Worker {
 public:
  Worker(WorkerSetup setup, const Pool& pool, Endpoint& ep, Failures& failures, Stats& stats,
         const std::atomic<bool>& stop)
      : s_(setup), rng_(setup.seed * 1000003 + setup.id), pool_(pool), ep_(ep), failures_(failures), stats_(stats),
        stop_(stop) {
    blobs_ = pool.blobs;
    for (const auto& repo : kRepos)
      for (const auto& suffix : kImageSuffixes) keys_.push_back({repo, imageName(s_.id, suffix)});
    for (const auto& k : keys_) model_[k] = {};
  }

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      failures_.add(prefix() + "worker stopped: " + e.what());
    }
    http_.reset();  // an idle keep-alive connection would hold up the daemon's graceful stop
  }

  static std::string imageName(int worker, const std::string& suffix) { return "w" + std::to_string(worker) + "/" + suffix; }

  // Read after the thread ended.
  State model_;
  ContentMap manifests_;
  BlobMap blobs_;
  // Blobs of pushes that did not finish (cut by a kill -9): their links may
  // stand with no manifest referencing them.
  std::set<std::string> unfinished_blobs_;

 private:
  enum class Outcome { Acked, Lost, Refused, GaveUp };
  struct Op {
    std::string what;
    std::vector<Key> keys;
    State after;
    std::vector<std::string> blobs = {};  // what a push uploads or mounts
  };

  std::string prefix() const { return "[worker " + std::to_string(s_.id) + ", seed " + std::to_string(s_.seed) + "] "; }

  void syncEndpoint() {
    std::lock_guard lock(ep_.m);
    if (http_ && gen_ == ep_.gen) return;
    gen_ = ep_.gen;
    if (!http_) http_ = std::make_unique<HttpClient>(ep_.host, ep_.port);
    else http_->retarget(ep_.host, ep_.port);
  }

  // After a broken connection: the daemon must have been killed; wait for the next one.
  void awaitRestart(uint64_t gen, const std::string& what) {
    if (!ep_.waitNewer(gen, std::chrono::seconds(60)))
      failures_.add(prefix() + "a connection failed with no kill -9 in 60 s: " + what);
    syncEndpoint();
  }

  void loop() {
    while (!stop_) {
      syncEndpoint();
      uint64_t gen = gen_;
      Op op;
      std::string why;
      Outcome o;
      try {
        o = step(op, why);
      } catch (const std::exception& e) {
        o = Outcome::Lost, why = e.what();
      }
      ++stats_.ops;
      if (o == Outcome::Acked) {
        for (const auto& k : op.keys) model_[k] = op.after[k];
      } else {
        unfinished_blobs_.insert(op.blobs.begin(), op.blobs.end());
        if (o == Outcome::Refused) failures_.add(prefix() + op.what + ": " + why);
        if (o == Outcome::Lost) ++stats_.lost, awaitRestart(gen, op.what + ": " + why);
        if (!op.keys.empty()) reconcile(op);
      }
      std::this_thread::sleep_for(s_.pause);
    }
  }

  // The server's tags for the op's images must be all as before or all as after.
  void reconcile(const Op& op) {
    State server;
    while (true) {
      syncEndpoint();
      uint64_t gen = gen_;
      try {
        std::string why;
        for (const auto& k : op.keys) server[k] = serverTags(*http_, k, why);
        if (!why.empty()) failures_.add(prefix() + "reconciling " + op.what + ": " + why);
        break;
      } catch (const std::exception& e) {
        awaitRestart(gen, "reconciling " + op.what + ": " + e.what());
      }
    }
    bool before = true, after = true;
    std::string detail;
    for (const auto& k : op.keys) {
      before = before && server[k] == model_[k];
      after = after && server[k] == op.after.at(k);
      detail += " " + k.str() + ": before " + describe(model_[k]) + ", after " + describe(op.after.at(k)) +
                ", server " + describe(server[k]) + ";";
    }
    if (after) ++stats_.found_after;
    else if (before) ++stats_.found_before;
    else failures_.add(prefix() + op.what + " is neither undone nor done:" + detail);
    for (const auto& k : op.keys) model_[k] = server[k];
  }

  std::vector<std::pair<Key, std::string>> tagged() const {
    std::vector<std::pair<Key, std::string>> out;
    for (const auto& [k, tags] : model_)
      for (const auto& [t, d] : tags) out.push_back({k, t});
    return out;
  }

  Outcome step(Op& op, std::string& why) {
    int r = std::uniform_int_distribution<int>(0, 99)(rng_);
    auto have = tagged();
    if (r < 30 || have.empty()) return push(op, why, false);
    if (r < 36) return push(op, why, true);
    auto [key, tag] = pick(rng_, have);
    if (r < 52) return promote(op, why, key, tag);
    if (r < 66) return retag(op, why, key, tag);
    if (r < 78) return deleteTag(op, why, key, tag);
    if (r < 82) return deleteImage(op, why, key);
    return pull(op, why, key, tag);
  }

  // A new image manifest over 1-3 pool layers and sometimes a layer of its own.
  std::string newImage() {
    Content c;
    c.media_type = mt::kOciManifest;
    std::vector<std::string> layers;
    int n = std::uniform_int_distribution<int>(1, 3)(rng_);
    while (static_cast<int>(layers.size()) < n) {
      const auto& d = pick(rng_, pool_.digests);
      if (std::find(layers.begin(), layers.end(), d) == layers.end()) layers.push_back(d);
    }
    if (chance(rng_, 0.25)) {
      std::string own = bytesFrom(rng_, std::uniform_int_distribution<std::size_t>(512, 2048)(rng_));
      layers.push_back(sha256Of(own));
      blobs_[layers.back()] = own;
    }
    std::string config = nlohmann::json{{"architecture", "amd64"}, {"os", "linux"}, {"nonce", rng_()}}.dump();
    std::string config_digest = sha256Of(config);
    blobs_[config_digest] = config;
    auto descriptor = [&](const std::string& type, const std::string& d) {
      return nlohmann::json{{"mediaType", type}, {"digest", d}, {"size", blobs_.at(d).size()}};
    };
    nlohmann::json doc{{"schemaVersion", 2}, {"mediaType", mt::kOciManifest},
                       {"config", descriptor(mt::kOciConfig, config_digest)}, {"layers", nlohmann::json::array()}};
    for (const auto& l : layers) doc["layers"].push_back(descriptor(mt::kOciLayer, l));
    c.blobs = {config_digest};
    c.blobs.insert(c.blobs.end(), layers.begin(), layers.end());
    c.bytes = doc.dump();
    std::string digest = sha256Of(c.bytes);
    manifests_[digest] = c;
    return digest;
  }

  std::string newIndex(const std::vector<std::string>& children) {
    nlohmann::json doc{{"schemaVersion", 2}, {"mediaType", mt::kOciIndex}, {"manifests", nlohmann::json::array()}};
    for (const auto& c : children)
      doc["manifests"].push_back({{"mediaType", mt::kOciManifest}, {"digest", c},
                                  {"size", manifests_.at(c).bytes.size()},
                                  {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}});
    Content c{mt::kOciIndex, doc.dump(), {}, children};
    std::string digest = sha256Of(c.bytes);
    manifests_[digest] = c;
    return digest;
  }

  // Uploads (or mounts from any worker's image, or finds already there) the blobs.
  bool pushBlobs(const Key& k, const std::vector<std::string>& digests, bool may_skip, std::string& why) {
    for (const auto& d : digests) {
      if (may_skip && chance(rng_, 0.4) && http_->head(k.url() + "/blobs/" + d).status == 200) continue;
      if (chance(rng_, 0.35)) {
        int other = std::uniform_int_distribution<int>(0, s_.workers - 1)(rng_);
        Key from{pick(rng_, kRepos), imageName(other, pick(rng_, kImageSuffixes))};
        if (from != k) {
          auto m = http_->post(k.url() + "/blobs/uploads/?mount=" + d + "&from=" + from.repo + "/" + from.image);
          if (m.status == 201) {
            ++stats_.mounts;
            continue;
          }
          if (m.status != 202) return why = "mount " + d + " from " + from.str() + ": " + m.describe(), false;
          ++stats_.mount_fallbacks;
          auto put = http_->put(withQuery(pathOf(m.header("Location")), "digest=" + d), blobs_.at(d),
                                {{"Content-Type", "application/octet-stream"}});
          if (put.status != 201) return why = "upload after mount " + d + ": " + put.describe(), false;
          continue;
        }
      }
      auto r = http_->post(k.url() + "/blobs/uploads/?digest=" + d, blobs_.at(d),
                           {{"Content-Type", "application/octet-stream"}});
      if (r.status != 201) return why = "upload " + d + ": " + r.describe(), false;
    }
    return true;
  }

  Response putManifest(const Key& k, const std::string& ref, const std::string& digest) {
    const auto& c = manifests_.at(digest);
    return http_->put(k.url() + "/manifests/" + ref, c.bytes, {{"Content-Type", c.media_type}});
  }

  // A blob the server had can be collected before the manifest naming it
  // arrives (grace period 0): the push starts again, as a client would.
  static bool blobUnknown(const Response& r) {
    return r.status == 400 && (r.errorCode() == "MANIFEST_BLOB_UNKNOWN" || r.errorCode() == "MANIFEST_UNKNOWN");
  }

  Outcome push(Op& op, std::string& why, bool index) {
    Key k = pick(rng_, keys_);
    std::string tag = pick(rng_, kTags);
    std::vector<std::string> children;
    if (index) children = {newImage(), newImage()};
    std::string digest = index ? newIndex(children) : newImage();
    op = {(index ? "push index " : "push ") + k.str() + ":" + tag + "@" + digest.substr(7, 12), {k}, {{k, model_[k]}}};
    op.after[k][tag] = digest;
    std::vector<std::string> images = index ? children : std::vector<std::string>{digest};
    for (const auto& m : images) op.blobs.insert(op.blobs.end(), manifests_.at(m).blobs.begin(), manifests_.at(m).blobs.end());
    for (int attempt = 0; attempt < 5; ++attempt) {
      bool retry = false;
      for (const auto& m : images) {
        if (!pushBlobs(k, manifests_.at(m).blobs, attempt == 0, why)) return Outcome::Refused;
        if (!index) break;
        auto r = putManifest(k, m, m);
        if (blobUnknown(r)) retry = true;
        else if (r.status != 201) return why = "child " + m + ": " + r.describe(), Outcome::Refused;
      }
      if (!retry) {
        auto r = putManifest(k, tag, digest);
        if (r.status == 201) return ++(index ? stats_.indexes : stats_.pushes), Outcome::Acked;
        if (!blobUnknown(r)) return why = r.describe(), Outcome::Refused;
      }
      ++stats_.blob_unknown_retries;
    }
    ++stats_.gave_up;
    return Outcome::GaveUp;
  }

  Outcome promote(Op& op, std::string& why, const Key& src, const std::string& tag) {
    bool whole = chance(rng_, 0.2), copy = chance(rng_, 0.5);
    Key dst{src.repo == kRepos[0] ? kRepos[1] : kRepos[0], imageName(s_.id, pick(rng_, kImageSuffixes))};
    std::string target_tag = chance(rng_, 0.5) ? tag : pick(rng_, kTags);
    nlohmann::json body{{"targetRepo", dst.repo}, {"dockerRepository", src.image},
                        {"targetDockerRepository", dst.image}, {"copy", copy}};
    op = {std::string(copy ? "copy " : "move ") + src.str() + (whole ? "" : ":" + tag) + " to " + dst.str() +
              (whole ? "" : ":" + target_tag),
          {src, dst}, {{src, model_[src]}, {dst, model_[dst]}}};
    if (whole) {
      for (const auto& [t, d] : model_[src]) op.after[dst][t] = d;
      if (!copy) op.after[src].clear();
    } else {
      body["tag"] = tag, body["targetTag"] = target_tag;
      op.after[dst][target_tag] = model_[src].at(tag);
      if (!copy) op.after[src].erase(tag);
    }
    auto r = http_->post("/api/docker/" + src.repo + "/v2/promote", body.dump(), {{"Content-Type", "application/json"}});
    if (r.status != 200) return why = r.describe(), Outcome::Refused;
    ++stats_.promotions;
    return Outcome::Acked;
  }

  Outcome retag(Op& op, std::string& why, const Key& k, const std::string& tag) {
    std::string digest = model_[k].at(tag), to = pick(rng_, kTags);
    op = {"retag " + k.str() + ":" + tag + " as " + to, {k}, {{k, model_[k]}}};
    op.after[k][to] = digest;
    auto r = putManifest(k, to, digest);
    if (r.status != 201) return why = r.describe(), Outcome::Refused;
    ++stats_.retags;
    return Outcome::Acked;
  }

  Outcome deleteTag(Op& op, std::string& why, const Key& k, const std::string& tag) {
    op = {"delete " + k.str() + ":" + tag, {k}, {{k, model_[k]}}};
    op.after[k].erase(tag);
    auto r = http_->del("/artifactory/" + k.repo + "/" + k.image + "/" + tag);
    if (r.status != 204) return why = r.describe(), Outcome::Refused;
    ++stats_.deletes;
    return Outcome::Acked;
  }

  Outcome deleteImage(Op& op, std::string& why, const Key& k) {
    op = {"delete image " + k.str(), {k}, {{k, {}}}};
    auto r = http_->del("/artifactory/" + k.repo + "/" + k.image);
    if (r.status != 204) return why = r.describe(), Outcome::Refused;
    ++stats_.deletes;
    return Outcome::Acked;
  }

  // A pull during the run: what a collection took from a live image shows here.
  Outcome pull(Op& op, std::string& why, const Key& k, const std::string& tag) {
    op = {"pull " + k.str() + ":" + tag, {}, {}};
    why = pullProblems(*http_, k, tag, model_[k].at(tag), manifests_, blobs_);
    if (!why.empty()) return Outcome::Refused;
    ++stats_.pulls;
    return Outcome::Acked;
  }

  WorkerSetup s_;
  Rng rng_;
  const Pool& pool_;
  Endpoint& ep_;
  Failures& failures_;
  Stats& stats_;
  const std::atomic<bool>& stop_;
  std::vector<Key> keys_;
  std::unique_ptr<HttpClient> http_;
  uint64_t gen_ = 0;
};

}  // namespace berth::it::torture

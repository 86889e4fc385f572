// Many small requests: the small-image push storm, and closed-loop manifest and blob HEAD load.

#include <atomic>
#include <optional>
#include <vector>

#include "commands.h"
#include "data.h"
#include "measure.h"
#include "net.h"
#include "registry_api.h"
#include "workers.h"

namespace berth_bench {

json cmdSmallImages(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/small");
  int count = static_cast<int>(a.num("count", 500));
  int workers = static_cast<int>(a.num("workers", 16));
  int layers = static_cast<int>(a.num("layers", 3));
  size_t layer_size = a.size("layer-size", 4 * KiB);
  uint64_t seed = static_cast<uint64_t>(a.num("seed", 1000));
  bool head_first = a.flag("head-first", true);
  bool oci = isOci(a);
  bool gc_loop = a.flag("gc-loop", false);
  checkCountAndWorkers(count, workers, 100000);

  std::atomic<int> next{0}, done{0};
  std::atomic<uint64_t> requests{0}, repushes{0};
  std::atomic<bool> abort{false};
  MeasuredWindow window(serverPid(a));
  std::optional<GcLoop> gc;
  if (gc_loop) gc.emplace(t);
  std::vector<std::vector<double>> lat(static_cast<size_t>(workers));
  try {
    runWorkers(t, workers, [&](int w, Conn& c) {
      try {
        for (int i; !abort && (i = next++) < count;) {
          // The image content is generated outside the timed push of each image.
          Image img = makeImage(seed * 100000ULL + static_cast<uint64_t>(i), layers, layer_size, oci);
          std::string tag = "i" + zeroPadded(i, 6);
          auto s = Clock::now();
          // Beside a GC loop with a grace period of 0, a run may take a layer between its upload and
          // the manifest (docs/lifecycle.md): the manifest then gets MANIFEST_BLOB_UNKNOWN, and the
          // image is pushed again, as a client would (its HEADs find the layer gone and upload it).
          for (int attempt = 1;; ++attempt) {
            try {
              requests += static_cast<uint64_t>(pushImage(c, t, repo, tag, img, head_first));
              break;
            } catch (const std::exception& e) {
              if (!gc_loop || attempt == 100 || std::string(e.what()).find("MANIFEST_BLOB_UNKNOWN") == std::string::npos) throw;
              ++repushes;
            }
          }
          lat[static_cast<size_t>(w)].push_back(micros(s, Clock::now()));
          ++done;
        }
      } catch (...) {
        abort = true;
        throw;
      }
    });
  } catch (const std::exception& e) {
    fail(std::string(e.what()) + " (after " + std::to_string(done.load()) + " images)");
  }
  auto m = window.finish();
  json gc_result = gc ? gc->stop() : json(nullptr);  // after the storm's clock: a run may outlast it
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  json j = {{"scenario", "small-images"},
            {"repo", repo},
            {"images", done.load()},
            {"workers", workers},
            {"layers", layers},
            {"layer_size", layer_size},
            {"requests", requests.load()},
            {"seconds", m.seconds},
            {"images_per_s", done.load() / m.seconds},
            {"req_per_s", static_cast<double>(requests.load()) / m.seconds},
            {"image_latency", latencyStats(all)},
            {"client_cpu_s", m.client_cpu_s}};
  if (gc) {
    j["gc_loop"] = gc_result;
    j["repushed_images"] = repushes.load();
    if (gc_result.contains("error")) fail("gc loop: " + gc_result["error"].get<std::string>());
  }
  addServerProbe(j, m.server, "server_cpu_s_per_1k_req", static_cast<double>(requests.load()) / 1000.0);
  return j;
}

Image pushLoadImage(const Args& a, const Target& t, const std::string& repo, const std::string& tag) {
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 77)), 3, 4 * KiB, isOci(a));
  if (a.has("push-to")) {
    // A pull-through cache: the image goes to its upstream, and the GET below is the cache's first.
    Target up = parseTarget(a.need("push-to"));
    Conn u(up);
    pushImage(u, up, a.str("push-repo", repo), tag, img, true);
  }
  Conn c(t);
  if (!a.has("push-to")) pushImage(c, t, repo, tag, img, true);
  Resp g = c.send(
      {.method = "GET", .target = "/v2/" + repo + "/manifests/" + tag, .headers = {{"Accept", kAcceptManifests}}});
  expectStatus(g, 200, "GET manifest");
  if (sha256Of(g.body) != img.manifest_digest) fail("GET manifest: body digest mismatch");
  return img;
}

LoadSpec manifestLoadSpec(const Args& a, const std::string& method, const std::string& target) {
  LoadSpec s = loadSpecFrom(a);
  s.make = [method, target](int, uint64_t, Req& rq, std::string&) {
    rq.method = method;
    rq.target = target;
    if (rq.headers.empty()) rq.headers = {{"Accept", kAcceptManifests}};
  };
  return s;
}

json cmdManifestLoad(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/m");
  std::string tag = a.str("tag", "latest");
  std::string method = a.str("method", "GET");
  std::string by = a.str("by", method == "GET" ? "tag" : "digest");
  if (method != "GET" && method != "HEAD") fail("--method GET|HEAD");
  if (by != "tag" && by != "digest") fail("--by tag|digest");

  Image img = pushLoadImage(a, t, repo, tag);
  const std::string target = "/v2/" + repo + "/manifests/" + (by == "tag" ? tag : img.manifest_digest);
  json j = runLoad(t, manifestLoadSpec(a, method, target), serverPid(a));
  j["scenario"] = "manifest-load";
  j["method"] = method;
  j["by"] = by;
  j["target"] = target;
  return j;
}

json cmdBlobHead(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/m");
  bool present = a.flag("present", true);
  // The manifest load's image; with --push-to, pushed there (another repository of the target,
  // a virtual key's member) and only read back here.
  Image img = pushLoadImage(a, t, repo, a.str("tag", "latest"));
  std::vector<std::string> targets;
  for (auto& b : img.layers) targets.push_back("/v2/" + repo + "/blobs/" + b.digest);
  targets.push_back("/v2/" + repo + "/blobs/" + img.config.digest);
  const std::string prefix = "/v2/" + repo + "/blobs/sha256:";
  LoadSpec s = loadSpecFrom(a);
  s.expect = present ? 200 : 404;
  s.make = [&](int w, uint64_t iter, Req& rq, std::string& scratch) {
    rq.method = "HEAD";
    if (present) {
      rq.target = targets[(static_cast<uint64_t>(w) + iter) % targets.size()];
    } else {
      // A fresh absent digest every request.
      static const char* hex = "0123456789abcdef";
      scratch = prefix;
      for (int k = 0; k < 4; ++k) {
        uint64_t v = mix64((static_cast<uint64_t>(w) << 40) ^ (iter * 4 + static_cast<uint64_t>(k)) ^ 0xabcdefULL);
        for (int d = 0; d < 16; ++d) scratch += hex[(v >> (4 * d)) & 15];
      }
      rq.target = scratch;
    }
  };
  json j = runLoad(t, s, serverPid(a));
  j["scenario"] = "blob-head";
  j["present"] = present;
  return j;
}

}  // namespace berth_bench

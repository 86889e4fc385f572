// The image lifecycle: promotion of one image with many layers (Berth's
// Artifactory route; registry:2 has no promotion). Each promotion is a
// metadata transaction, so its time should not grow with the layers' bytes.

#include <nlohmann/json.hpp>
#include <vector>

#include "commands.h"
#include "measure.h"
#include "net.h"
#include "registry_api.h"

namespace berth_bench {
namespace {

// "key/name" -> (key, name)
std::pair<std::string, std::string> splitRepo(const std::string& repo) {
  auto slash = repo.find('/');
  if (slash == std::string::npos || slash + 1 == repo.size()) fail("--repo must be <repoKey>/<image>");
  return {repo.substr(0, slash), repo.substr(slash + 1)};
}

double promoteOnce(Conn& c, const std::string& source_key, const json& body) {
  std::string target = "/api/docker/" + source_key + "/v2/promote", text = body.dump();
  auto s = Clock::now();
  Resp r = c.send({.method = "POST", .target = target, .headers = {{"Content-Type", "application/json"}}, .body = text});
  double us = micros(s, Clock::now());
  expectStatus(r, 200, "POST " + target + " " + text);
  return us;
}

}  // namespace

json cmdPromote(const Args& a) {
  Target t = parseTarget(a.need("target"));
  auto [key, name] = splitRepo(a.str("repo", "docker-local/bench/promote"));
  std::string to_key = a.str("to-repo", key);
  int layers = static_cast<int>(a.num("layers", 50));
  size_t layer_size = a.size("layer-size", 4 * KiB);
  int iterations = static_cast<int>(a.num("iterations", 200));
  if (layers < 1 || layers > 1000 || iterations < 1 || iterations > 100000) fail("bad --layers/--iterations");
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 4242)), layers, layer_size, isOci(a));
  Conn c(t);
  pushImage(c, t, key + "/" + name, "src", img, true);

  // Copies: a fresh target tag each time (no overwrite, no pruning).
  MeasuredWindow copy_window(serverPid(a));
  std::vector<double> copies;
  for (int i = 0; i < iterations; ++i)
    copies.push_back(promoteOnce(c, key,
                                 {{"targetRepo", to_key},
                                  {"dockerRepository", name},
                                  {"targetDockerRepository", name + "-copies"},
                                  {"tag", "src"},
                                  {"targetTag", "c" + zeroPadded(i, 6)},
                                  {"copy", true}}));
  auto copy_m = copy_window.finish();

  // Moves: the tag back and forth between two images; each move also prunes
  // the source (its manifest and every layer link).
  MeasuredWindow move_window(serverPid(a));
  std::vector<double> moves;
  std::string here_key = key, here = name, there = name + "-moved";
  for (int i = 0; i < iterations; ++i) {
    std::string there_key = i % 2 == 0 ? to_key : key;
    moves.push_back(promoteOnce(
        c, here_key, {{"targetRepo", there_key}, {"dockerRepository", here}, {"targetDockerRepository", there}, {"tag", "src"}}));
    std::swap(here, there);
    here_key = there_key;
  }
  auto move_m = move_window.finish();

  json j = {{"scenario", "promote"},
            {"repo", key + "/" + name},
            {"to_repo", to_key},
            {"layers", layers},
            {"iterations", iterations},
            {"copy_latency", latencyStats(copies)},
            {"move_latency", latencyStats(moves)},
            {"copy_seconds", copy_m.seconds},
            {"move_seconds", move_m.seconds}};
  addServerProbe(j, copy_m.server, "server_cpu_s_per_1k_copies", iterations / 1000.0);
  return j;
}

}  // namespace berth_bench

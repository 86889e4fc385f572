// Listings: seeding many tags or repositories, then walking the paginated
// tags list and catalog.

#include <algorithm>
#include <atomic>
#include <vector>

#include "commands.h"
#include "measure.h"
#include "net.h"
#include "registry_api.h"
#include "workers.h"

namespace berth_bench {

namespace {

// The target of a `Link: <...>; rel="next"` header, or "".
std::string nextLink(const Resp& r) {
  std::string link = r.header("link");
  if (link.empty() || link.find("next") == std::string::npos) return "";
  auto lt = link.find('<'), gt = link.find('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return "";
  return link.substr(lt + 1, gt - lt - 1);
}

// Repeated full walks of a paginated list; latency per page and per walk.
json walkPages(const Args& a, const std::string& first_target, const std::string& key, const std::string& scenario) {
  Target t = parseTarget(a.need("target"));
  int iterations = static_cast<int>(a.num("iterations", 20));
  double max_secs = a.dbl("seconds", 60);
  long expect_min = a.num("expect-min", 0);
  if (iterations < 1 || iterations > 100000) fail("--iterations 1..100000");
  Conn c(t);
  expectRegistry(c);
  std::vector<double> first_page, later_pages, walks, walks_with_client;
  long items = 0, pages = 0;
  size_t max_page_bytes = 0;
  bool empty_last_page = false, sorted = true;
  MeasuredWindow window(serverPid(a));
  uint64_t reqs = 0;
  int it = 0;
  for (; it < iterations && (it == 0 || secondsSince(window.started()) < max_secs); ++it) {
    std::string target = first_target;
    long n_items = 0, n_pages = 0;
    // A walk's latency is its requests' (send to full response), summed: the
    // tool's own parsing of each page (4 ms of 10,000 tags) is the same for
    // both servers and would only blur their ratio. With it: walk_with_client.
    auto ws = Clock::now();
    double requests_us = 0;
    bool last_empty = false;
    std::string prev;
    while (!target.empty() && n_pages < 10000) {
      auto s = Clock::now();
      Resp r = c.send({.method = "GET", .target = target});
      auto e = Clock::now();
      ++reqs;
      expectStatus(r, 200, "GET " + target);
      (n_pages == 0 ? first_page : later_pages).push_back(micros(s, e));
      requests_us += micros(s, e);
      ++n_pages;
      max_page_bytes = std::max(max_page_bytes, r.body.size());
      json body = json::parse(r.body);
      size_t k = body.contains(key) && body[key].is_array() ? body[key].size() : 0;
      if (k) {
        for (auto& v : body[key]) {
          std::string sv = v.is_string() ? v.get<std::string>() : "";
          if (!prev.empty() && sv < prev) sorted = false;
          prev = std::move(sv);
        }
      }
      n_items += static_cast<long>(k);
      last_empty = k == 0;
      std::string next = nextLink(r);
      target = next.empty() ? "" : pathOf(next, t);
    }
    walks.push_back(requests_us);
    walks_with_client.push_back(micros(ws, Clock::now()));
    items = n_items;
    pages = n_pages;
    empty_last_page = last_empty && n_pages > 1;
  }
  auto m = window.finish();
  if (items < expect_min)
    fail(scenario + ": saw " + std::to_string(items) + " " + key + ", want >= " + std::to_string(expect_min));
  std::vector<double> all_pages = first_page;
  all_pages.insert(all_pages.end(), later_pages.begin(), later_pages.end());
  json j = {{"scenario", scenario},
            {"first_target", first_target},
            {"walks", it},
            {"items", items},
            {"pages_per_walk", pages},
            {"empty_last_page", empty_last_page},
            {"sorted", sorted},
            {"max_page_bytes", max_page_bytes},
            {"requests", reqs},
            {"seconds", m.seconds},
            {"page", latencyStats(all_pages)},
            {"first_page", latencyStats(first_page)},
            {"walk", latencyStats(walks)},
            {"walk_with_client", latencyStats(walks_with_client)}};
  if (!later_pages.empty()) j["later_pages"] = latencyStats(later_pages);
  addServerProbe(j, m.server, "server_cpu_s_per_1k_req", static_cast<double>(reqs) / 1000.0);
  return j;
}

}  // namespace

json cmdSeedTags(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/tags");
  int count = static_cast<int>(a.num("count", 10000));
  int workers = static_cast<int>(a.num("workers", 16));
  checkCountAndWorkers(count, workers, 200000);
  // Tags t000000<suffix>, t000001<suffix>, ...: repositories seeded with different suffixes have
  // distinct tags that interleave in sorted order.
  std::string suffix = a.str("tag-suffix", "");
  auto tag = [&](int i) { return "t" + zeroPadded(i, 6) + suffix; };
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 99)), 1, 4 * KiB, isOci(a));
  auto t0 = Clock::now();
  pushImageOnce(t, repo, tag(0), img);
  std::atomic<int> next{1};
  runWorkers(t, workers, [&](int, Conn& c) {
    for (int i; (i = next++) < count;) putManifest(c, repo, tag(i), img);
  });
  return {{"scenario", "seed-tags"}, {"repo", repo}, {"tags", count}, {"seconds", secondsSince(t0)}};
}

json cmdSeedRepos(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string prefix = a.str("prefix", "docker-local/bench/cat/r");
  int count = static_cast<int>(a.num("count", 2000));
  int workers = static_cast<int>(a.num("workers", 16));
  checkCountAndWorkers(count, workers, 100000);
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 55)), 1, 4 * KiB, isOci(a));
  auto t0 = Clock::now();
  const std::string first = prefix + zeroPadded(0, 5);
  pushImageOnce(t, first, "latest", img);
  std::atomic<int> next{1}, mounted{0};
  std::atomic<uint64_t> requests{0};
  runWorkers(t, workers, [&](int, Conn& c) {
    for (int i; (i = next++) < count;) {
      std::string repo = prefix + zeroPadded(i, 5);
      int n = 0;
      for (auto* b : {&img.layers[0], &img.config}) {
        int k = mountOrPush(c, t, repo, first, *b);
        if (k == 1) ++mounted;
        n += k;
      }
      n += putManifest(c, repo, "latest", img);
      requests += static_cast<uint64_t>(n);
    }
  });
  return {{"scenario", "seed-repos"},
          {"prefix", prefix},
          {"repos", count},
          {"blobs_mounted", mounted.load()},
          {"requests", requests.load()},
          {"seconds", secondsSince(t0)}};
}

json cmdTagsList(const Args& a) {
  std::string repo = a.str("repo", "docker-local/bench/tags");
  std::string target = "/v2/" + repo + "/tags/list";
  if (a.has("n")) target += "?n=" + a.str("n");
  json j = walkPages(a, target, "tags", "tags-list");
  if (a.has("n")) j["n"] = a.num("n", 0);
  return j;
}

json cmdCatalog(const Args& a) {
  json j = walkPages(a, "/v2/_catalog?n=" + std::to_string(a.num("n", 1000)), "repositories", "catalog");
  j["n"] = a.num("n", 1000);
  return j;
}

}  // namespace berth_bench

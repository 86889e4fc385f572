// Large blobs: push (monolithic, chunked, single POST) and pull (1..64 parallel clients).

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "commands.h"
#include "data.h"
#include "measure.h"
#include "net.h"
#include "registry_api.h"

namespace berth_bench {

namespace {

// POST, PATCH with Content-Range per chunk, PUT ?digest=. Returns requests made.
int pushChunked(Conn& c, const Target& t, const std::string& repo, const Pattern& pat, const std::string& digest,
                uint64_t chunk) {
  std::string loc = pathOf(startUpload(c, repo), t);
  int requests = 1;
  for (uint64_t off = 0, size = pat.size(); off < size; off += chunk) {
    uint64_t n = std::min(chunk, size - off);
    std::string range = std::to_string(off) + "-" + std::to_string(off + n - 1);
    Resp r = c.send({.method = "PATCH",
                     .target = loc,
                     .headers = {{"Content-Type", "application/octet-stream"}, {"Content-Range", range}},
                     .stream = &pat,
                     .stream_off = off,
                     .stream_len = n});
    ++requests;
    expectStatus(r, 202, "PATCH " + range);
    if (r.header("location").empty()) fail("PATCH: no Location");
    loc = pathOf(r.header("location"), t);
  }
  Resp r = c.send({.method = "PUT", .target = withQuery(loc, "digest=" + digest)});
  ++requests;
  expectStatus(r, 201, "PUT finish chunked");
  return requests;
}

}  // namespace

json cmdPush(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/big");
  uint64_t size = a.size("size", 1 * GiB);
  std::string mode = a.str("mode", "mono");
  uint64_t chunk = a.size("chunk", 64 * MiB);
  uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));
  if (size == 0 || chunk == 0) fail("size and chunk must be > 0");
  if (mode != "mono" && mode != "chunked" && mode != "post") fail("--mode mono|chunked|post");

  Pattern pat(seed, size);
  auto th = Clock::now();
  std::string digest = pat.digest();
  double hash_s = secondsSince(th);
  logProgress("push " + mode + ": " + std::to_string(size) + " bytes, " + digest);

  Conn c(t);
  expectRegistry(c);

  MeasuredWindow window(serverPid(a));
  int requests = 0;
  if (mode == "post") {
    // Single request: POST ?digest= with the body (spec's monolithic upload).
    Resp r = c.send({.method = "POST",
                     .target = "/v2/" + repo + "/blobs/uploads/?digest=" + digest,
                     .headers = {{"Content-Type", "application/octet-stream"}},
                     .stream = &pat,
                     .stream_len = size});
    ++requests;
    expectStatus(r, 201, "POST ?digest= (monolithic)");
  } else if (mode == "mono") {
    requests += pushMonolithic(c, t, repo, pat, digest);
  } else {
    requests += pushChunked(c, t, repo, pat, digest, chunk);
  }
  auto m = window.finish();

  // Verify: the blob exists with the right size.
  Resp h = c.send({.method = "HEAD", .target = "/v2/" + repo + "/blobs/" + digest});
  expectStatus(h, 200, "HEAD pushed blob");
  if (h.header("content-length") != std::to_string(size))
    fail("HEAD pushed blob: Content-Length " + h.header("content-length"));

  json j = {{"scenario", "push"},
            {"mode", mode},
            {"repo", repo},
            {"digest", digest},
            {"bytes", size},
            {"chunk", mode == "chunked" ? chunk : size},
            {"requests", requests},
            {"seconds", m.seconds},
            {"mib_s", static_cast<double>(size) / MiB / m.seconds},
            {"client_hash_s", hash_s},
            {"client_cpu_s", m.client_cpu_s}};
  addServerProbe(j, m.server, "server_cpu_s_per_gib", static_cast<double>(size) / GiB);
  return j;
}

json cmdPull(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/big");
  std::string digest = a.need("digest");
  uint64_t size = a.size("size", 0);
  int parallel = static_cast<int>(a.num("parallel", 1));
  bool verify = a.flag("verify", false);
  if (parallel < 1 || parallel > 64) fail("--parallel 1..64");

  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < parallel; ++i) {
    conns.push_back(std::make_unique<Conn>(t));
    expectRegistry(*conns.back());
  }
  std::vector<uint64_t> got(static_cast<size_t>(parallel), 0);
  std::vector<std::string> errs(static_cast<size_t>(parallel)), digests(static_cast<size_t>(parallel));
  std::vector<double> ttfb(static_cast<size_t>(parallel), 0);

  MeasuredWindow window(serverPid(a));
  std::vector<std::thread> ths;
  for (int i = 0; i < parallel; ++i) {
    ths.emplace_back([&, i] {
      auto idx = static_cast<size_t>(i);
      try {
        Sha256 h;
        bool first = true;
        Sink sink = [&](const uint8_t* d, size_t n) {
          if (first) {
            ttfb[idx] = secondsSince(window.started());
            first = false;
          }
          if (verify) h.update(d, n);
          got[idx] += n;
        };
        std::string target = "/v2/" + repo + "/blobs/" + digest;
        Resp r = conns[idx]->send({.method = "GET", .target = target, .sink = &sink});
        for (int hop = 0; hop < 3 && (r.status == 307 || r.status == 302 || r.status == 301); ++hop) {
          target = pathOf(r.header("location"), t);
          r = conns[idx]->send({.method = "GET", .target = target, .sink = &sink});
        }
        expectStatus(r, 200, "GET blob");
        if (verify) digests[idx] = h.digest();
      } catch (const std::exception& e) {
        errs[idx] = e.what();
      }
    });
  }
  for (auto& th : ths) th.join();
  auto m = window.finish();
  for (auto& e : errs)
    if (!e.empty()) fail(e);
  uint64_t total = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    total += got[i];
    if (size && got[i] != size) fail("pull: got " + std::to_string(got[i]) + " bytes, want " + std::to_string(size));
    if (verify && digests[i] != digest) fail("pull: digest mismatch " + digests[i]);
  }
  json j = {{"scenario", "pull"},
            {"repo", repo},
            {"digest", digest},
            {"parallel", parallel},
            {"bytes", total},
            {"seconds", m.seconds},
            {"mib_s", static_cast<double>(total) / MiB / m.seconds},
            {"ttfb_max_s", *std::max_element(ttfb.begin(), ttfb.end())},
            {"verified", verify},
            {"client_cpu_s", m.client_cpu_s}};
  addServerProbe(j, m.server, "server_cpu_s_per_gib", static_cast<double>(total) / GiB);
  return j;
}

}  // namespace berth_bench

// Normal traffic beside abnormal clients: the manifest-GET load (as manifest_get_tag) first alone,
// then with a crowd of idle or slow connections held open (`crowd`), or while several clients push
// large blobs (`push-load`). Both report the load's figures with and without, side by side.

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "commands.h"
#include "crowd.h"
#include "data.h"
#include "measure.h"

namespace berth_bench {

namespace {

void sleepFor(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

std::optional<double> rssMib(int pid) {
  if (!pid) return std::nullopt;
  auto v = procStatusKib(pid, "VmRSS");
  if (!v) return std::nullopt;
  return static_cast<double>(*v) / 1024.0;
}

double clientMaxRssMib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// What the two loads show side by side: throughput of good answers, p99, failed requests.
void compareLoads(json& j, const json& base, const json& with) {
  j["base"] = base;
  j["with"] = with;
  double b = base.value("ok_rps", 0.0), w = with.value("ok_rps", 0.0);
  if (b > 0) j["rps_pct_of_base"] = 100.0 * w / b;
  if (base.contains("p99_ms") && with.contains("p99_ms") && base["p99_ms"].get<double>() > 0)
    j["p99_ratio"] = with["p99_ms"].get<double>() / base["p99_ms"].get<double>();
  j["errors"] = with.value("errors", 0) + with.value("bad_status", 0);
  if (with.contains("first_error")) j["first_error"] = with["first_error"];
}

// Shrinks the crowd to `room` connections, keeping the kinds' proportions.
void capCrowd(CrowdSpec& cs, long room) {
  double total = cs.idle + cs.slow_headers + cs.slow_bodies;
  double f = std::max(0.0, static_cast<double>(room) / total);
  cs.idle = static_cast<int>(std::floor(cs.idle * f));
  cs.slow_headers = static_cast<int>(std::floor(cs.slow_headers * f));
  cs.slow_bodies = static_cast<int>(std::floor(cs.slow_bodies * f));
}

// DELETEs the slow bodies' upload sessions, so that they hold no server limit or disk after the
// scenario; a session whose cut PATCH the server is still winding up may refuse at first, so the
// refused ones are asked again 2 s later. Returns the last answers by status ("204": 1000) and the
// refusals at the first try ("first_try_409": 3).
json cancelUploads(const Target& t, const std::vector<std::string>& paths) {
  auto done = [](int status) { return status == 204 || status == 202 || status == 200 || status == 404; };
  std::vector<int> last(paths.size(), 0);
  Conn c(t);
  int retried = 0;
  std::map<std::string, int> first_refusals;
  std::string first_odd;  // the first answer other than 204, for the raw results
  for (int round = 0; round < 2; ++round) {
    if (round) {
      for (int v : last) {
        if (done(v)) continue;
        ++retried;
        ++first_refusals[v < 0 ? "error" : std::to_string(v)];
      }
      if (!retried) break;
      logProgress(std::to_string(retried) + " upload sessions not cancelled at once; once more in 2 s");
      sleepFor(2);
    }
    for (size_t i = 0; i < paths.size(); ++i) {
      if (round && done(last[i])) continue;
      try {
        Resp r = c.send({.method = "DELETE", .target = paths[i]});
        last[i] = r.status;
        if (r.status != 204 && first_odd.empty()) first_odd = "DELETE " + paths[i] + ": " + describe(r);
      } catch (const std::exception&) {
        last[i] = -1;
        c.close();
      }
    }
  }
  std::map<std::string, int> by_status;
  for (int v : last) ++by_status[v < 0 ? "error" : std::to_string(v)];
  json j = by_status;
  for (auto& [k, n] : first_refusals) j["first_try_" + k] = n;
  if (!first_odd.empty()) j["first_other_answer"] = first_odd;
  return j;
}

// The round whose `key` is the median (the higher middle one for an even count), with every
// round's `key` in rounds_<key>, the round count, and the failed requests of all rounds.
json medianRound(const std::vector<json>& done, const std::string& key) {
  std::vector<size_t> order(done.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto at = [&](size_t i) { return done[i].value(key, 0.0); };
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return at(x) < at(y); });
  json j = done[order[order.size() / 2]];
  j["rounds"] = done.size();
  j["median_round"] = order[order.size() / 2] + 1;
  json all = json::array();
  int errors = 0;
  for (auto& d : done) {
    all.push_back(d.value(key, 0.0));
    errors += d.value("errors", 0);
  }
  j["rounds_" + key] = all;
  j["errors"] = errors;
  return j;
}

// One round: the load alone, then the crowd opened and the load beside it, then the crowd closed.
json crowdRound(const Target& t, const CrowdSpec& cs, LoadSpec s, int pid, const std::string& kind, int requested,
                bool capped, long limit, double settle) {
  int size = cs.idle + cs.slow_headers + cs.slow_bodies;
  logProgress("crowd " + kind + ": the manifest GET load alone");
  json base = runLoad(t, s, pid);
  sleepFor(1);
  auto rss_before = rssMib(pid);

  Crowd crowd(t, cs);
  logProgress("crowd " + kind + ": opening " + std::to_string(size) + " connections");
  crowd.open();
  json at_open = crowd.snapshot();
  crowd.startTrickle();
  sleepFor(settle);
  auto rss_with = rssMib(pid);
  json at_load = crowd.snapshot();
  logProgress("crowd " + kind + ": " + std::to_string(at_load.value("open", 0)) + " open; the manifest GET load");
  s.tolerate_failures = true;
  json with = runLoad(t, s, pid);
  json at_end = crowd.snapshot();
  crowd.close();
  json cancelled = cancelUploads(t, crowd.uploadSessions());

  // The crowd starts when its connections begin to misbehave: at once for idle ones, when they
  // start to trickle for slow ones (opening them, and their upload sessions, comes before).
  double crowd_start = at_end.value("trickle_start_s", 0.0);
  if (kind == "idle") crowd_start = 0;
  json j = {{"scenario", "crowd"},
            {"kind", kind},
            {"requested", requested},
            {"crowd_size", size},
            {"capped", capped},
            {"nofile_limit", limit},
            {"per_source", cs.per_source},
            {"open_at_load_start", at_load.value("open", 0)},
            {"open_at_end", at_end.value("open", 0)},
            {"refused", at_end.value("refused", 0)},
            {"no_answer", at_end.value("no_answer", 0)},
            {"cut_by_end", at_end.value("cut", 0)},
            {"client_errors", at_end.value("client_errors", 0)},
            {"setup_s", at_open.value("setup_s", 0.0)},
            {"measured_end_after_crowd_start_s", at_end.value("elapsed_s", 0.0) - crowd_start},
            {"crowd_at_load_start", at_load},
            {"crowd_at_end", at_end},
            {"server_alive", pid == 0 || kill(pid, 0) == 0},
            {"uploads_cancelled", cancelled},  // DELETE answers by status
            {"client_max_rss_mib", clientMaxRssMib()},
            {"client_cpu_s", clientCpuSeconds()},
            {"crowd_thread_cpu_s", at_end.value("thread_cpu_s", 0.0)}};
  if (kind == "slow") {
    j["header_interval_s"] = cs.header_interval_s;
    j["body_bytes_per_s"] = cs.body_bytes_per_tick / cs.body_interval_s;
  }
  compareLoads(j, base, with);
  if (rss_before) j["rss_before_mib"] = *rss_before;
  if (rss_with) j["rss_with_crowd_mib"] = *rss_with;
  if (with.contains("server_peak_rss_kib"))
    j["rss_peak_during_load_mib"] = with["server_peak_rss_kib"].get<double>() / 1024;
  int open = at_load.value("open", 0);
  if (rss_before && rss_with && open > 0) j["bytes_per_conn"] = (*rss_with - *rss_before) * MiB / open;
  return j;
}

}  // namespace

json cmdCrowd(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string kind = a.str("kind", "idle");
  if (kind != "idle" && kind != "slow") fail("--kind idle|slow");
  int pid = serverPid(a);
  CrowdSpec cs;
  if (kind == "idle") {
    cs.idle = static_cast<int>(a.num("idle", 10000));
  } else {
    cs.slow_headers = static_cast<int>(a.num("slow-headers", 1000));
    cs.slow_bodies = static_cast<int>(a.num("slow-bodies", 1000));
  }
  cs.per_source = static_cast<int>(a.num("per-source", 250));
  cs.header_interval_s = a.dbl("header-interval", 5);
  cs.body_interval_s = a.dbl("body-interval", 1);
  cs.body_bytes_per_tick = static_cast<int>(a.num("body-bytes", 4));
  cs.upload_repo = a.str("upload-repo", "docker-local/bench/crowd");
  cs.setup_timeout_s = a.dbl("setup-seconds", 60);
  double settle = a.dbl("settle", 1);
  int requested = cs.idle + cs.slow_headers + cs.slow_bodies;
  if (requested < 1 || requested > 100000) fail("crowd size 1..100000");

  std::string repo = a.str("repo", "docker-local/bench/m"), tag = a.str("tag", "latest");
  LoadSpec s = manifestLoadSpec(a, "GET", "/v2/" + repo + "/manifests/" + tag);

  // One descriptor per crowd connection; a load connection takes its socket and its io_context's
  // epoll, eventfd and timerfd; and a margin for the rest.
  long limit = raiseFileLimit();
  long room = limit - 5L * s.conns - 64;
  bool capped = requested > room;
  if (capped) capCrowd(cs, room);
  int size = cs.idle + cs.slow_headers + cs.slow_bodies;
  if (size < 1) fail("no descriptors left for a crowd (limit " + std::to_string(limit) + ")");

  pushLoadImage(a, t, repo, tag);
  // The load's figures swing by a quarter from one 10 s window to the next on a shared 2-core
  // machine: with --rounds N the whole round runs N times and the round whose throughput ratio is
  // the median is reported. Memory figures are the first round's (a fresh process: later rounds
  // start with what the allocator kept from the crowd before); the peak is the highest of all.
  int rounds = static_cast<int>(a.num("rounds", 1));
  if (rounds < 1 || rounds > 9) fail("--rounds 1..9");
  std::vector<json> done;
  for (int r = 0; r < rounds; ++r) {
    if (rounds > 1) logProgress("crowd " + kind + ": round " + std::to_string(r + 1) + " of " + std::to_string(rounds));
    done.push_back(crowdRound(t, cs, s, pid, kind, requested, capped, limit, settle));
  }
  json j = medianRound(done, "rps_pct_of_base");
  double peak = 0;
  for (auto& d : done) peak = std::max(peak, d.value("rss_peak_during_load_mib", 0.0));
  for (const char* k : {"rss_before_mib", "rss_with_crowd_mib", "bytes_per_conn"}) {
    if (done.front().contains(k)) j[k] = done.front()[k];
    else j.erase(k);
  }
  if (peak > 0) j["rss_peak_during_load_mib"] = peak;
  return j;
}

namespace {

// One round of push-load: the load alone, then again while the clients push their blobs
// (`seed`, `seed + 1`, ...: fresh content, so that no push finds its blob already stored).
json pushLoadRound(const Target& t, const LoadSpec& s, int pid, int pushes, uint64_t size, const std::string& push_repo,
                   double max_during, uint64_t seed) {
  // The blobs, hashed before anything is timed.
  std::vector<std::unique_ptr<Pattern>> pats;
  std::vector<std::string> digests(static_cast<size_t>(pushes));
  for (int i = 0; i < pushes; ++i) pats.push_back(std::make_unique<Pattern>(seed + static_cast<uint64_t>(i), size));
  {
    std::vector<std::thread> hs;
    for (size_t i = 0; i < pats.size(); ++i) hs.emplace_back([&, i] { digests[i] = pats[i]->digest(); });
    for (auto& h : hs) h.join();
  }

  logProgress("push-load: the manifest GET load alone");
  json base = runLoad(t, s, pid);
  sleepFor(1);

  logProgress("push-load: the manifest GET load while " + std::to_string(pushes) + " clients push");
  std::atomic<int> done{0};
  std::vector<double> secs(static_cast<size_t>(pushes), 0);
  std::vector<std::string> errs(static_cast<size_t>(pushes));
  auto t0 = Clock::now();
  std::vector<std::thread> ths;
  for (int i = 0; i < pushes; ++i) {
    ths.emplace_back([&, i] {
      auto idx = static_cast<size_t>(i);
      try {
        Conn c(t);
        pushMonolithic(c, t, push_repo, *pats[idx], digests[idx]);
      } catch (const std::exception& e) {
        errs[idx] = e.what();
      }
      secs[idx] = secondsSince(t0);
      ++done;
    });
  }
  LoadSpec d = s;
  d.seconds = max_during;
  d.tolerate_failures = true;
  d.stop_when = [&] { return done.load() >= pushes; };
  json with = runLoad(t, d, pid);
  bool outlasted = done.load() < pushes;  // the measured part ended at --max-during
  for (auto& th : ths) th.join();

  int ok = 0;
  double last = 0;
  json push_errors = json::array();
  for (size_t i = 0; i < errs.size(); ++i) {
    if (errs[i].empty())
      ++ok;
    else
      push_errors.push_back(errs[i]);
    last = std::max(last, secs[i]);
  }
  json j = {{"scenario", "push-load"},
            {"pushes", pushes},
            {"push_bytes", size},
            {"pushes_ok", ok},
            {"push_seconds", secs},
            {"push_aggregate_mib_s", static_cast<double>(ok) * static_cast<double>(size) / MiB / last},
            {"pushes_outlasted_load", outlasted},
            {"client_max_rss_mib", clientMaxRssMib()}};
  if (!push_errors.empty()) j["push_errors"] = push_errors;
  compareLoads(j, base, with);
  return j;
}

}  // namespace

json cmdPushLoad(const Args& a) {
  Target t = parseTarget(a.need("target"));
  int pid = serverPid(a);
  int pushes = static_cast<int>(a.num("pushes", 4));
  uint64_t size = a.size("size", 1 * GiB);
  std::string push_repo = a.str("push-repo", "docker-local/bench/pushload");
  double max_during = a.dbl("max-during", 300);
  if (pushes < 1 || pushes > 16 || size == 0) fail("--pushes 1..16, --size > 0");
  std::string repo = a.str("repo", "docker-local/bench/m"), tag = a.str("tag", "latest");
  LoadSpec s = manifestLoadSpec(a, "GET", "/v2/" + repo + "/manifests/" + tag);
  pushLoadImage(a, t, repo, tag);
  uint64_t seed = static_cast<uint64_t>(a.num("seed", 31));
  // As for crowds: with --rounds N the round whose p99 ratio is the median is reported.
  int rounds = static_cast<int>(a.num("rounds", 1));
  if (rounds < 1 || rounds > 9) fail("--rounds 1..9");
  std::vector<json> done;
  for (int r = 0; r < rounds; ++r) {
    if (rounds > 1) logProgress("push-load: round " + std::to_string(r + 1) + " of " + std::to_string(rounds));
    done.push_back(pushLoadRound(t, s, pid, pushes, size, push_repo, max_during,
                                 seed + static_cast<uint64_t>(r * pushes)));
  }
  return medianRound(done, "p99_ratio");
}

}  // namespace berth_bench

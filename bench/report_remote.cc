// The report's section for bench/run_remote.sh: pull-through caches (Berth's remote
// repository, registry:2's proxy mode) in front of one upstream, beside a pull straight from
// the upstream and Berth's local repository. Each figure is the median of the rounds; the
// rounds' own values are in the raw results.

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "report.h"

namespace berth_bench::report {

namespace fs = std::filesystem;

namespace {

using Opt = std::optional<double>;

class RemoteSection {
 public:
  RemoteSection(Tables& t, fs::path dir) : t_(t), dir_(std::move(dir)), setup_(loadJson(dir_ / "setup.json")) {}

  // f(round) for each round that has a value; their median.
  Opt overRounds(const std::function<Opt(int)>& f) const {
    std::vector<double> v;
    for (int n = 1; n <= rounds(); ++n)
      if (auto x = f(n)) v.push_back(*x);
    return median(v);
  }
  Opt value(const std::string& name, int n, const std::string& key) const {
    return numberAt(file(name + "_" + std::to_string(n)), key);
  }
  // The median over the rounds of NAME_<round>.json's key.
  Opt med(const std::string& name, const std::string& key) const {
    return overRounds([&](int n) { return value(name, n, key); });
  }
  // The median over the rounds of a / b, each from the same round.
  Opt medRatio(const std::string& a, const std::string& b, const std::string& key) const {
    return overRounds([&](int n) -> Opt {
      auto x = value(a, n, key), y = value(b, n, key);
      if (!x || !y || *y == 0) return std::nullopt;
      return *x / *y;
    });
  }

  void write() {
    auto& md = t_.md();
    std::string blob = setupValue("blob_label", "1GiB"), shared = setupValue("shared_label", "256MiB");
    md << "\n### Remote repositories (pull-through cache; upstream: " << setupValue("upstream", "docker-registry")
       << " on loopback)\n\n";
    if (!errorOf(setup_).empty()) {
      md << "Not run: " << errorOf(setup_) << ".\n";
      return;
    }
    md << "Median of " << rounds() << " rounds; each cold figure on a freshly started cache with empty storage.\n\n";
    md << "| scenario | upstream direct | registry:2 proxy | berth remote | berth local | target | met? |\n"
       << "| --- | ---: | ---: | ---: | ---: | --- | --- |\n";

    Opt direct = med("cold_direct", "mib_s"), reg = med("cold_registry", "mib_s"), ber = med("cold_berth", "mib_s");
    std::optional<bool> ok_cold;
    if (direct && reg && ber) ok_cold = *ber >= *reg && *ber >= 0.9 * *direct;
    line("Cold pull " + blob + ", MiB/s", direct, reg, ber, {}, "berth ≥ registry:2 and ≥ 90% of direct", ok_cold,
         true);
    line("… % of the direct pull", {}, pct(med("cold_registry", "mib_s"), direct), pct(ber, direct), {}, "—", {},
         false);
    line("… CPU-s/GiB of the cache, until it holds the blob (registry:2: with its background fetch)", {},
         med("cold_registry", "cache_cpu_s_per_gib"), med("cold_berth", "cache_cpu_s_per_gib"), {}, "—", {}, false);
    line("… CPU-s/GiB of the upstream", med("cold_direct", "server_cpu_s_per_gib"),
         med("cold_registry", "upstream_cpu_s_per_gib"), med("cold_berth", "upstream_cpu_s_per_gib"), {}, "—", {},
         false);
    line("… time to first byte, ms", ms(med("cold_direct", "ttfb_max_s")), ms(med("cold_registry", "ttfb_max_s")),
         ms(med("cold_berth", "ttfb_max_s")), {}, "—", {}, false);
    line("… upstream GETs of the blob per cold pull", {}, med("cold_registry", "upstream_gets"),
         med("cold_berth", "upstream_gets"), {}, "—", {}, false);

    Opt warm_b = med("warm_berth", "mib_s"), local = med("local_berth", "mib_s");
    std::optional<bool> ok_warm;
    if (warm_b && local) ok_warm = *warm_b >= 0.9 * *local;
    line("Warm pull " + blob + " (cache hit; local: a blob pushed there), MiB/s", {}, med("warm_registry", "mib_s"),
         warm_b, local, "berth remote ≥ 90% of berth local", ok_warm, true);
    line("… server CPU-s/GiB", {}, med("warm_registry", "server_cpu_s_per_gib"),
         med("warm_berth", "server_cpu_s_per_gib"), med("local_berth", "server_cpu_s_per_gib"), "—", {}, false);

    Opt gets = med("many_berth", "upstream_gets");
    std::optional<bool> ok_gets;
    if (gets) ok_gets = *gets == 1;
    line("16 clients at once, cold " + shared + ": upstream GETs of the blob", {}, med("many_registry", "upstream_gets"),
         gets, {}, "berth 1", ok_gets, true);
    line("… one client alone (cold), s", {}, med("one_registry", "seconds"), med("one_berth", "seconds"), {}, "—", {},
         false);
    line("… all 16 (cold), s", {}, med("many_registry", "seconds"), med("many_berth", "seconds"), {}, "—", {}, false);
    Opt ratio = medRatio("many_berth", "one_berth", "seconds");
    std::optional<bool> ok_ratio;
    if (ratio) ok_ratio = *ratio <= 1.5;
    line("… all 16 / one alone", {}, medRatio("many_registry", "one_registry", "seconds"), ratio, {}, "berth ≤ 1.5×",
         ok_ratio, true);
    line("… all 16 again from the cache (warm), s", {}, med("many_warm_registry", "seconds"),
         med("many_warm_berth", "seconds"), {}, "—", {}, false);
    line("… all 16 cold / all 16 warm", {}, medRatio("many_registry", "many_warm_registry", "seconds"),
         medRatio("many_berth", "many_warm_berth", "seconds"), {}, "—", {}, false);

    Opt rps_b = med("manifest_berth", "ok_rps"), rps_l = med("manifest_local", "ok_rps");
    std::optional<bool> ok_rps;
    if (rps_b && rps_l) ok_rps = *rps_b >= 0.9 * *rps_l;
    std::string load = setupValue("load_conns", "64") + " connections";
    line("Manifest GET by tag within the TTL (" + load + "), req/s", {}, med("manifest_registry", "ok_rps"), rps_b,
         rps_l, "berth remote ≥ 90% of berth local", ok_rps, true);
    line("… p99 ms", {}, med("manifest_registry", "p99_ms"), med("manifest_berth", "p99_ms"),
         med("manifest_local", "p99_ms"), "—", {}, false);
    line("… server CPU-s / 1k req", {}, med("manifest_registry", "server_cpu_s_per_1k_req"),
         med("manifest_berth", "server_cpu_s_per_1k_req"), med("manifest_local", "server_cpu_s_per_1k_req"), "—", {},
         false);
    line("… upstream manifest requests during the load", {}, med("manifest_registry", "upstream_manifest_requests"),
         med("manifest_berth", "upstream_manifest_requests"), {}, "—", {}, false);
  }

  void notes() {
    auto& md = t_.md();
    md << "- Remote repositories: one upstream (" << setupValue("upstream", "docker-registry")
       << ", filesystem storage, access log on) holds a " << setupValue("blob_label", "?") << " and a "
       << setupValue("shared_label", "?")
       << " blob; both were read once before the first pull, so the upstream serves every pull from the page cache. "
          "The caches run one at a time in front of it: registry:2 with `proxy: remoteurl:` (its stock config "
          "otherwise), Berth with a `type: remote` repository (defaults: `metadata_ttl_seconds: 21600`) beside its "
          "local one. Every cold pull runs on a cache started for it with empty storage; the direct pull is "
          "`berth_bench pull` against the upstream itself. The order of direct, registry:2 and Berth turns from "
          "round to round.\n";
    md << "- Upstream GETs are the upstream's access-log lines for the blob during the pull, read once the cache "
          "holds the whole blob (registry:2 stores what it proxies with a second GET of its own, in the background; "
          "concurrent clients of a blob it does not hold yet each get a GET of their own).\n";
    md << "- 16 clients: each pulls the whole blob over a connection of its own, all started together; \"all 16\" "
          "is until the last one has its last byte. The warm repeat on the same cache is the cost of delivering "
          "16 copies alone (16 × " << setupValue("shared_label", "?") << " over loopback on the same cores).\n";
    md << "- Manifest GET by tag: the image is pushed to the upstream, read once through the cache, then the load "
          "(" << setupValue("load_conns", "64") << " keep-alive connections, closed loop, 1 s warm-up, "
       << setupValue("load_seconds", "?")
       << " s) asks the cache for the tag. registry:2's proxy asks its upstream for the tag on every request; "
          "Berth answers from its cache within the TTL. The local figure is the same load against Berth's local "
          "repository on the same process.\n";
  }

  bool ran() const { return !setup_.is_null(); }

 private:
  int rounds() const { return setup_.is_object() ? setup_.value("rounds", 1) : 1; }
  std::string setupValue(const char* k, const std::string& def) const {
    if (!setup_.is_object() || !setup_.contains(k)) return def;
    return setup_[k].is_string() ? setup_[k].get<std::string>() : setup_[k].dump();
  }
  json file(const std::string& name) const { return loadJson(dir_ / (name + ".json")); }
  static Opt pct(Opt a, Opt b) {
    if (!a || !b || *b == 0) return std::nullopt;
    return 100 * *a / *b;
  }
  static Opt ms(Opt s) { return s ? Opt(*s * 1000) : std::nullopt; }

  void line(const std::string& label, Opt direct, Opt reg, Opt berth, Opt local, const std::string& target,
            std::optional<bool> ok, bool has_target) {
    std::string met = "—";
    if (has_target) met = t_.verdict(ok);
    auto cell = [](Opt v) { return v ? fmtAuto(v) : std::string("—"); };
    t_.md() << "| " << label << " | " << cell(direct) << " | " << cell(reg) << " | " << cell(berth) << " | "
            << cell(local) << " | " << target << " | " << met << " |\n";
  }

  Tables& t_;
  fs::path dir_;
  json setup_;
};

}  // namespace

bool hasRemoteResults(const fs::path& results_dir) { return fs::exists(results_dir / "remote" / "setup.json"); }

void writeRemoteTables(Tables& t, const fs::path& results_dir) {
  RemoteSection s(t, results_dir / "remote");
  if (s.ran()) s.write();
}

void writeRemoteNotes(Tables& t, const fs::path& results_dir) {
  RemoteSection s(t, results_dir / "remote");
  if (s.ran()) s.notes();
}

}  // namespace berth_bench::report

// The report's section for bench/run_virtual.sh: requests through a virtual repository beside the
// same requests on its member, on one Berth process. Values are medians over the rounds; each
// ratio is the median of the rounds' own ratios (the two sides of a ratio ran a few seconds apart).

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

class VirtualSection {
 public:
  VirtualSection(Tables& t, fs::path dir) : t_(t), dir_(std::move(dir)), setup_(loadJson(dir_ / "setup.json")) {}

  bool ran() const { return !setup_.is_null(); }

  void write() {
    auto& md = t_.md();
    md << "\n### Virtual repositories (Berth: through a virtual key vs on its member)\n\n";
    if (!errorOf(setup_).empty()) {
      md << "Not run: " << errorOf(setup_) << ".\n";
      return;
    }
    std::string tags = setupValue("tags", "10000");
    md << "Median of " << rounds() << " rounds on one process (load average " << setupValue("load_average_start", "?")
       << " at the start, " << setupValue("load_average_end", "?")
       << " at the end). `v2` = [docker-dev, docker-local] (the hit is in docker-local, the second member); "
          "`v3` = [docker-local, docker-dev, docker-prod].\n\n";
    md << "| scenario | member (docker-local) | virtual | virtual / member | target | met? |\n"
       << "| --- | ---: | ---: | ---: | --- | --- |\n";
    std::string load = setupValue("load_conns", "64") + " connections";
    throughput("Manifest GET by tag through `v2` (" + load + ")", "manifest");
    throughput("Blob HEAD, present, through `v2` (" + load + ")", "blob_head");
    listing("Tags list through `v3`, the same " + tags + " tags in each member (merged: " + tags + ")", "tags_same");
    listing("Tags list through `v3`, " + tags + " distinct tags in each member (merged: " +
                fmtAuto(3 * numberAt(setup_, "tags").value_or(0)) + ")",
            "tags_distinct");
    // The lists must be whole and sorted on both sides for the latency to mean anything.
    if (!unsorted_.empty()) {
      md << "\n**Not sorted:**";
      for (auto& u : unsorted_) md << " " << u;
      md << "\n";
    }
  }

  void notes() {
    t_.md() << "- Virtual repositories: one Berth process (`log.level: warn`, `storage.metadata_sync: normal` for a "
               "quick seeding; reads never commit) with three local repositories and two virtual ones over them. "
               "Manifest GET and blob HEAD: the image (3 × 4 KiB layers and a config) is pushed to docker-local, and "
               "docker-dev holds another image of the same name, so each request through `v2` is a miss in "
               "docker-dev, then a hit in docker-local; the member column is the same load on "
            << "`docker-local/bench/m` (" << setupValue("load_conns", "64") << " keep-alive connections, closed loop, "
            << "1 s warm-up, " << setupValue("load_seconds", "?")
            << " s). Tags list: full lists without `n` on one connection (" << setupValue("list_iterations", "?")
            << " per measurement), latency per full list; the member column is docker-local's list of the same "
               "image name. Member and virtual key alternate which goes first from round to round.\n";
  }

 private:
  int rounds() const { return setup_.is_object() ? setup_.value("rounds", 1) : 1; }
  std::string setupValue(const char* k, const std::string& def) const {
    if (!setup_.is_object() || !setup_.contains(k)) return def;
    return setup_[k].is_string() ? setup_[k].get<std::string>() : setup_[k].dump();
  }
  json file(const std::string& name) const { return loadJson(dir_ / (name + ".json")); }

  Opt overRounds(const std::function<Opt(int)>& f) const {
    std::vector<double> v;
    for (int n = 1; n <= rounds(); ++n)
      if (auto x = f(n)) v.push_back(*x);
    return median(v);
  }
  Opt value(const std::string& name, int n, const std::string& key) const {
    return numberAt(file(name + "_" + std::to_string(n)), key);
  }
  Opt med(const std::string& name, const std::string& key) const {
    return overRounds([&](int n) { return value(name, n, key); });
  }
  // The median of the rounds' virtual / member.
  Opt medRatio(const std::string& base, const std::string& key) const {
    return overRounds([&](int n) -> Opt {
      auto v = value(base + "_virtual", n, key), m = value(base + "_member", n, key);
      if (!v || !m || *m == 0) return std::nullopt;
      return *v / *m;
    });
  }

  void throughput(const std::string& label, const std::string& base) {
    Opt ratio = medRatio(base, "ok_rps");
    std::optional<bool> ok;
    if (ratio) ok = *ratio >= 0.8;
    line(label + ", req/s", base, "ok_rps", ratio, "virtual ≥ 80% of member", t_.verdict(ok), true);
    line("… p50 ms", base, "p50_ms", medRatio(base, "p50_ms"), "—", "—", true);
    line("… p99 ms", base, "p99_ms", medRatio(base, "p99_ms"), "—", "—", true);
    line("… server CPU-s / 1k req", base, "server_cpu_s_per_1k_req", medRatio(base, "server_cpu_s_per_1k_req"), "—",
         "—", true);
  }

  void listing(const std::string& label, const std::string& base) {
    Opt ratio = medRatio(base, "walk.p50_ms");
    std::optional<bool> ok;
    if (ratio) ok = *ratio < 2.0;
    line(label + ", full list p50 ms", base, "walk.p50_ms", ratio, "virtual < 2× member", t_.verdict(ok), true);
    line("… full list p99 ms", base, "walk.p99_ms", medRatio(base, "walk.p99_ms"), "—", "—", true);
    line("… tags per list", base, "items", {}, "—", "—", false);
    perThousand(base);
    line("… response bytes", base, "max_page_bytes", medRatio(base, "max_page_bytes"), "—", "—", true);
    line("… server CPU-s / 1k lists", base, "server_cpu_s_per_1k_req", medRatio(base, "server_cpu_s_per_1k_req"),
         "—", "—", false);
    for (const char* side : {"_member", "_virtual"})
      for (int n = 1; n <= rounds(); ++n) {
        json j = file(base + side + "_" + std::to_string(n));
        if (errorOf(j).empty() && !j.value("sorted", false)) unsorted_.push_back(base + side + "_" + std::to_string(n));
      }
  }

  // The full list's p50 per 1,000 tags in it: what each listed tag costs, whatever the list's length.
  void perThousand(const std::string& base) {
    auto per = [&](const std::string& name, int n) -> Opt {
      auto ms = value(name, n, "walk.p50_ms"), items = value(name, n, "items");
      if (!ms || !items || *items == 0) return std::nullopt;
      return *ms * 1000 / *items;
    };
    auto cell = [&](const std::string& side) {
      return fmtAuto(overRounds([&](int n) { return per(base + side, n); }));
    };
    Opt ratio = overRounds([&](int n) -> Opt {
      auto v = per(base + "_virtual", n), m = per(base + "_member", n);
      if (!v || !m || *m == 0) return std::nullopt;
      return *v / *m;
    });
    t_.md() << "| … p50 ms per 1,000 tags listed | " << cell("_member") << " | " << cell("_virtual") << " | "
            << (ratio ? fmtNum(ratio, 2) + "×" : "—") << " | — | — |\n";
  }

  void line(const std::string& label, const std::string& base, const std::string& key, Opt ratio,
            const std::string& target, const std::string& met, bool show_ratio) {
    auto cell = [&](const std::string& side) {
      Opt v = med(base + side, key);
      if (v) return fmtAuto(v);
      std::string e = errorOf(file(base + side + "_1"));
      return e.empty() ? std::string("—") : "failed: " + e;
    };
    t_.md() << "| " << label << " | " << cell("_member") << " | " << cell("_virtual") << " | "
            << (show_ratio && ratio ? fmtNum(ratio, 2) + "×" : "—") << " | " << target << " | " << met << " |\n";
  }

  Tables& t_;
  fs::path dir_;
  json setup_;
  std::vector<std::string> unsorted_;  // results whose lists came unsorted
};

}  // namespace

bool hasVirtualResults(const fs::path& results_dir) { return fs::exists(results_dir / "virtual" / "setup.json"); }

void writeVirtualTables(Tables& t, const fs::path& results_dir) {
  VirtualSection s(t, results_dir / "virtual");
  if (s.ran()) s.write();
}

void writeVirtualNotes(Tables& t, const fs::path& results_dir) {
  VirtualSection s(t, results_dir / "virtual");
  if (s.ran() && errorOf(loadJson(results_dir / "virtual" / "setup.json")).empty()) s.notes();
}

}  // namespace berth_bench::report

// The report's section for bench/run_lifecycle.sh (issue 10): one store collected by registry:2's
// offline garbage-collect, `berth gc` and Berth's online run side by side; the small-image storm
// with and without a GC loop beside it; promotion of an image of 50 layers.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "report.h"

namespace berth_bench::report {

namespace fs = std::filesystem;

namespace {

using Opt = std::optional<double>;

class LifecycleSection {
 public:
  LifecycleSection(Tables& t, fs::path dir) : t_(t), dir_(std::move(dir)), setup_(file("setup")) {}

  bool ran() const { return !setup_.is_null(); }

  void write() {
    auto& md = t_.md();
    md << "\n### Lifecycle (issue 10)\n\n";
    if (!errorOf(setup_).empty()) {
      md << "Not run: " << errorOf(setup_) << ".\n";
      return;
    }
    md << "Load average " << value("load_average_start") << " at the start, " << value("load_average_end")
       << " at the end; storage on " << value("filesystem") << ".\n";
    gcTable();
    stormTable();
    promoteTable();
  }

  void notes() {
    json seed = file("seed");
    t_.md() << "- Lifecycle, garbage collection: a registry:2 filesystem storage written directly by `berth_bench "
               "seed-registry2`: "
            << value("images") << " images of " << value("layers") << " layers + config + manifest ("
            << fmtAuto(numberAt(seed, "referenced")) << " referenced blobs) and " << fmtAuto(numberAt(seed, "garbage"))
            << " blobs linked in `_layers` of some images but named by no manifest (uploads whose manifest never "
               "came): garbage to both. Every blob "
            << value("blob_size")
            << " of random bytes (manifests and configs their own size). Berth gets the same content through "
               "`berth import-registry2` (hard links; took "
            << fmtAuto(numberAt(file("import"), "seconds"))
            << " s), then a second root is made of it (blobs hard-linked, metadata copied) for the offline run. Each "
               "collector runs on its own copy, one after the other; registry:2's and `berth gc` as processes "
               "(wall time, CPU and peak RSS from `wait4`), the online run as one POST to a running Berth (its "
               "VmHWM reset before, VmRSS sampled every 10 ms). Berth with `gc.grace_period_minutes: 0` (the import "
               "records every blob as just installed: with the default 60 nothing would be old enough) and "
               "`gc.interval_minutes: 0`. Afterwards `berth_bench check-store` lists the blob files left.\n";
    t_.md() << "- Lifecycle, storm during GC: the suite's small-image storm (" << value("storm_images")
            << " images of 3 × 4 KiB layers + config, " << value("storm_workers")
            << " workers) on the Berth above (after its GC: the referenced blobs of the store), alone and with one "
               "more connection POSTing `/api/system/storage/gc` in a loop (a new run as soon as the last "
               "answered), "
            << value("rounds")
            << " rounds, alternating which goes first, fresh images each time; the ratio is the median of the "
               "rounds' ratios. Grace period 0 first; then Berth restarted with the default 60 on the same storage. "
               "With 0, a run can take a layer between its upload and the image's manifest, which then gets "
               "`MANIFEST_BLOB_UNKNOWN`; the tool pushes the image again (its HEADs find what is gone), counted as "
               "re-pushed, and the image's time includes it.\n";
    t_.md() << "- Lifecycle, promotion: `berth_bench promote`, one image of 50 layers of 4 KiB in docker-local; "
               "copies to fresh tags of docker-prod, then moves back and forth between the two repositories (each "
               "move also prunes the source), over one keep-alive connection, on the same Berth as the storms.\n";
  }

 private:
  json file(const std::string& name) const { return loadJson(dir_ / (name + ".json")); }
  std::string value(const char* k) const {
    if (!setup_.is_object() || !setup_.contains(k)) return "?";
    return setup_[k].is_string() ? setup_[k].get<std::string>() : setup_[k].dump();
  }
  // A cell: the number, or why there is none.
  static std::string cell(const json& j, Opt v) {
    if (v) return fmtAuto(v);
    std::string e = errorOf(j);
    return e.empty() ? "—" : e == "not run" ? "not run" : "failed: " + e;
  }

  void gcTable() {
    json seed = file("seed");
    json reg = file("registry_gc"), off = file("berth_gc_offline"), on = file("berth_gc_online");
    json reg_c = file("registry_check"), off_c = file("berth_offline_check"), on_c = file("berth_online_check");
    auto& md = t_.md();
    md << "\n#### Garbage collection of " << fmtAuto(numberAt(seed, "blobs")) << " blobs, "
       << fmtAuto(numberAt(seed, "garbage")) << " of them garbage (the same content)\n\n"
       << "| | registry:2 `garbage-collect` (offline) | `berth gc` (offline) | Berth online (`POST "
          "/api/system/storage/gc`) | target | met? |\n"
       << "| --- | ---: | ---: | ---: | --- | --- |\n";
    auto row = [&](const std::string& label, Opt r, Opt b_off, Opt b_on, const json& rj, const json& oj,
                   const json& nj) {
      md << "| " << label << " | " << cell(rj, r) << " | " << cell(oj, b_off) << " | " << cell(nj, b_on)
         << " | — | — |\n";
    };
    row("Time, s", numberAt(reg, "seconds"), numberAt(off, "seconds"), numberAt(on, "seconds"), reg, off, on);
    auto mib = [](Opt kib) { return kib ? Opt(*kib / 1024) : kib; };
    row("Peak RSS while it runs, MiB", mib(numberAt(reg, "peak_rss_kib")), mib(numberAt(off, "peak_rss_kib")),
        mib(numberAt(on, "server_peak_rss_kib")), reg, off, on);
    json idle = file("berth_idle");
    md << "| … the Berth daemon before the run, MiB | — | — | " << cell(idle, mib(numberAt(idle, "rss_kib")))
       << " | — | — |\n";
    row("CPU-s", numberAt(reg, "cpu_s"), numberAt(off, "cpu_s"), numberAt(on, "server_cpu_s"), reg, off, on);
    auto freed = [](const json& check) -> Opt {
      auto g = numberAt(check, "garbage"), left = numberAt(check, "garbage_left");
      return g && left ? Opt(*g - *left) : std::nullopt;
    };
    row("Garbage blobs removed (files gone)", freed(reg_c), freed(off_c), freed(on_c), reg_c, off_c, on_c);
    row("Referenced blobs still stored", numberAt(reg_c, "referenced_present"), numberAt(off_c, "referenced_present"),
        numberAt(on_c, "referenced_present"), reg_c, off_c, on_c);
    // The one target of the table: nothing referenced lost, nothing unreferenced left.
    auto ok = [](const json& check) -> std::optional<bool> {
      if (!errorOf(check).empty()) return std::nullopt;
      return check.value("as_expected", false);
    };
    std::optional<bool> all = ok(off_c) && ok(on_c) ? std::optional<bool>(*ok(off_c) && *ok(on_c)) : std::nullopt;
    auto yn = [&](const json& check) {
      auto o = ok(check);
      return o ? (*o ? "yes" : "**no**") : "—";
    };
    md << "| Every referenced blob kept, no garbage left | " << yn(reg_c) << " | " << yn(off_c) << " | " << yn(on_c)
       << " | Berth: both runs | " << t_.verdict(all) << " |\n";
  }

  // The storm's rounds for one grace period: median images/s alone, with the loop, and of the rounds' ratios.
  Opt stormMedian(int grace, const std::string& side, const std::string& key) const {
    std::vector<double> v;
    for (int n = 1; n <= rounds(); ++n)
      if (auto x = numberAt(file(stormName(grace, side, n)), key)) v.push_back(*x);
    return median(v);
  }
  Opt stormRatio(int grace) const {
    std::vector<double> v;
    for (int n = 1; n <= rounds(); ++n) {
      auto p = numberAt(file(stormName(grace, "plain", n)), "images_per_s");
      auto g = numberAt(file(stormName(grace, "gc", n)), "images_per_s");
      if (p && g && *p > 0) v.push_back(*g / *p);
    }
    return median(v);
  }
  static std::string stormName(int grace, const std::string& side, int n) {
    return "storm_g" + std::to_string(grace) + "_" + side + "_" + std::to_string(n);
  }
  int rounds() const { return setup_.is_object() ? setup_.value("rounds", 1) : 1; }

  void stormTable() {
    auto& md = t_.md();
    md << "\n#### Small-image storm while GC runs in a loop (Berth; median of " << rounds() << " rounds)\n\n"
       << "| | storm alone | storm + GC loop | with / alone | target | met? |\n"
       << "| --- | ---: | ---: | ---: | --- | --- |\n";
    for (int grace : {0, 60}) {
      std::string g = "grace period " + std::to_string(grace) + " min";
      json first = file(stormName(grace, "gc", 1));
      if (!errorOf(first).empty() && errorOf(file(stormName(grace, "plain", 1))) == "not run") continue;
      Opt ratio = stormRatio(grace);
      std::optional<bool> ok;
      if (ratio) ok = *ratio >= 0.8;
      auto both = [&](const std::string& label, const std::string& key, Opt r, const std::string& target,
                      const std::string& met) {
        Opt p = stormMedian(grace, "plain", key), w = stormMedian(grace, "gc", key);
        md << "| " << label << " | " << cell(file(stormName(grace, "plain", 1)), p) << " | " << cell(first, w)
           << " | " << (r ? fmtNum(r, 2) + "×" : "—") << " | " << target << " | " << met << " |\n";
      };
      both("Images/s, " + g, "images_per_s", ratio, "≥ 80% of alone", t_.verdict(ok));
      both("… image p99 ms", "image_latency.p99_ms", std::nullopt, "—", "—");
      both("… server CPU-s / 1k requests", "server_cpu_s_per_1k_req", std::nullopt, "—", "—");
      md << "| … GC runs during the storm; blobs they freed | — | " << fmtAuto(stormMedian(grace, "gc", "gc_loop.runs"))
         << "; " << fmtAuto(stormMedian(grace, "gc", "gc_loop.freed_blobs")) << " | — | — | — |\n";
      md << "| … a GC run's time, p50 ms | — | " << fmtAuto(stormMedian(grace, "gc", "gc_loop.run_latency.p50_ms"))
         << " | — | — | — |\n";
      md << "| … images pushed again (MANIFEST_BLOB_UNKNOWN) | — | "
         << fmtAuto(stormMedian(grace, "gc", "repushed_images")) << " | — | — | — |\n";
    }
  }

  void promoteTable() {
    json p = file("promote");
    auto& md = t_.md();
    md << "\n#### Promotion of an image of " << cell(p, numberAt(p, "layers")) << " layers (Berth; "
       << cell(p, numberAt(p, "iterations")) << " of each)\n\n"
       << "| | ms | target | met? |\n| --- | ---: | --- | --- |\n";
    for (auto [label, key] : {std::pair<const char*, const char*>{"Copy to a fresh tag, p50", "copy_latency.p50_ms"},
                              {"Copy, p99", "copy_latency.p99_ms"},
                              {"Move (and prune the source), p50", "move_latency.p50_ms"},
                              {"Move, p99", "move_latency.p99_ms"}}) {
      Opt v = numberAt(p, key);
      std::optional<bool> ok;
      if (v) ok = *v < 10;
      md << "| " << label << " | " << cell(p, v) << " | < 10 ms | " << t_.verdict(ok) << " |\n";
    }
  }

  Tables& t_;
  fs::path dir_;
  json setup_;
};

}  // namespace

bool hasLifecycleResults(const fs::path& results_dir) { return fs::exists(results_dir / "lifecycle" / "setup.json"); }

void writeLifecycleTables(Tables& t, const fs::path& results_dir) {
  LifecycleSection s(t, results_dir / "lifecycle");
  if (s.ran()) s.write();
}

void writeLifecycleNotes(Tables& t, const fs::path& results_dir) {
  LifecycleSection s(t, results_dir / "lifecycle");
  if (s.ran() && errorOf(loadJson(results_dir / "lifecycle" / "setup.json")).empty()) s.notes();
}

}  // namespace berth_bench::report

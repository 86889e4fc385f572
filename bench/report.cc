// The `report` command: docs/benchmarks.md from the JSON results of a
// bench/run.sh run (DIR/meta.json, DIR/machine.json, DIR/{registry,berth}/NAME.json).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "report.h"

namespace berth_bench {

namespace fs = std::filesystem;

namespace report {

// The last non-empty line of a result file as JSON; null when absent or empty.
std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

json loadJson(const fs::path& p) {
  std::ifstream f(p);
  if (!f) return nullptr;
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  if (last.empty()) return nullptr;
  try {
    return json::parse(last);
  } catch (...) {
    return json{{"ok", false}, {"error", "unparseable: " + last.substr(0, 200)}};
  }
}

bool failed(const json& j) { return j.contains("ok") && j["ok"].is_boolean() && !j["ok"].get<bool>(); }

// "not run", the error of a failed result, or "" for a good one.
std::string errorOf(const json& j) {
  if (j.is_null()) return "not run";
  if (failed(j)) return j.contains("error") ? j["error"].get<std::string>() : "failed";
  return "";
}

// The number at a dotted path ("walk.p50_ms") of a good result.
std::optional<double> numberAt(const json& j, const std::string& path) {
  if (j.is_null() || !j.is_object()) return std::nullopt;
  if (failed(j)) return std::nullopt;
  const json* cur = &j;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!cur->is_object() || !cur->contains(part)) return std::nullopt;
    cur = &(*cur)[part];
  }
  if (!cur->is_number()) return std::nullopt;
  return cur->get<double>();
}

std::string fmtNum(std::optional<double> v, int prec) {
  if (!v) return "—";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, *v);
  return b;
}

// Whole numbers as such, others with about three significant digits.
std::string fmtAuto(std::optional<double> v) {
  if (!v) return "—";
  double a = std::fabs(*v);
  if ((a >= 1 || a == 0) && *v == std::floor(*v)) return fmtNum(v, 0);
  return fmtNum(v, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4);
}

}  // namespace report

namespace {

using namespace report;

class Report : public Tables {
 public:
  explicit Report(fs::path dir)
      : dir_(std::move(dir)), meta_(loadJson(dir_ / "meta.json")), machine_(loadJson(dir_ / "machine.json")) {
    double limit_sha = numberAt(machine_, "sha256_mib_s").value_or(0);
    double limit_dd = numberAt(machine_, "dd_fsync_mib_s").value_or(0);
    push_limit_ = (limit_sha > 0 && limit_dd > 0) ? std::min(limit_sha, limit_dd) : 0;
  }

  std::string markdown() {
    writeIntro();
    writeMachine();
    writeResults();
    writeNotes();
    writeRaw();
    return md_.str();
  }

  int met = 0, missed = 0, unknown = 0;

 private:
  std::ostream& md() override { return md_; }

  // side: "registry" or "berth"; name: a result file, or "rss" for the peak RSS summary.
  json result(const std::string& side, const std::string& name) const override {
    return name == "rss" ? rssSummary(side) : loadJson(dir_ / side / (name + ".json"));
  }

  // Peak RSS per phase, in MiB, from the scenarios' probes.
  json rssSummary(const std::string& side) const {
    auto peak = [&](std::initializer_list<const char*> files) -> std::optional<double> {
      std::optional<double> m;
      for (auto* f : files)
        if (auto v = numberAt(result(side, f), "server_peak_rss_kib")) m = std::max(m.value_or(0), *v / 1024.0);
      return m;
    };
    json j = json::object();
    auto put = [&](const char* k, std::optional<double> v) {
      if (v) j[k] = *v;
    };
    put("push_mono_mib", peak({"push_mono"}));
    put("push_chunked_mib", peak({"push_chunked"}));
    put("pull_mib", peak({"pull_1", "pull_4"}));
    put("storm_mib", peak({"small_images", "manifest_get_tag", "manifest_head_digest", "blob_head_present",
                           "blob_head_absent"}));
    if (auto v = numberAt(loadJson(dir_ / side / "idle.json"), "rss_kib")) j["idle_mib"] = *v / 1024.0;
    return j.empty() ? json(nullptr) : j;
  }

  // A meta.json value as JSON text, or `def`.
  std::string metaValue(const char* k, const std::string& def) const {
    return meta_.is_object() && meta_.contains(k) ? meta_[k].dump() : def;
  }

  std::string blobLabel() const {
    if (!meta_.is_object()) return std::string("1 GiB");
    return meta_.value("blob_size_label", std::string("1 GiB"));
  }

  void row(const Row& r) override {
    json rj = result("registry", r.file), bj = result("berth", r.file);
    auto rv = numberAt(rj, r.key), bv = numberAt(bj, r.key);
    std::optional<double> ratio;
    if (rv && bv && *rv != 0) ratio = *bv / *rv;
    std::string metStr = "—";
    if (r.goal != Row::kInfo) {
      std::optional<bool> ok;
      if (r.berth_min || r.berth_max) {
        if (bv) ok = *bv >= r.berth_min.value_or(*bv) && *bv <= r.berth_max.value_or(*bv);
      } else if (r.absolute_rss) {
        if (bv) ok = *bv < 64.0;
      } else if (ratio) {
        ok = r.goal == Row::kHigher ? *ratio >= r.factor : *ratio <= r.factor;
        if (r.push && push_limit_ > 0) *ok = *ok && *bv >= 0.7 * push_limit_;
      }
      metStr = verdict(ok);
    }
    auto cell = [&](const json& j, std::optional<double> v) {
      if (v) return fmtAuto(v);
      std::string e = errorOf(j);
      if (e == "not run") return std::string("not run");
      return e.empty() ? std::string("—") : std::string("failed¹");
    };
    for (auto* side : {&rj, &bj}) {
      std::string e = errorOf(*side);
      if (!e.empty() && e != "not run") {
        std::string f = std::string(side == &rj ? "registry:2" : "berth") + " / " + r.file + ": " + e;
        if (std::find(failures_.begin(), failures_.end(), f) == failures_.end()) failures_.push_back(f);
      }
    }
    md_ << "| " << r.label << " | " << cell(rj, rv) << " | " << cell(bj, bv) << " | "
        << (ratio ? fmtNum(ratio, 2) + "×" : "—") << " | " << r.target << " | " << metStr << " |\n";
  }

  std::string verdict(std::optional<bool> ok) override {
    if (!ok) {
      ++unknown;
      return "?";
    }
    if (*ok) {
      ++met;
      return "yes";
    }
    ++missed;
    return "**no**";
  }

  void writeIntro() {
    bool quick = meta_.is_object() && meta_.value("quick", false);
    md_ << "# Benchmarks: Berth vs registry:2\n\n";
    md_ << "Generated by `bench/run.sh`"
        << (quick ? " in **quick mode** (BENCH_QUICK=1: reduced sizes; not the reference numbers)" : "")
        << ". Both servers ran on the same machine, one after the other, driven by `bench/berth_bench` over loopback; "
           "see `bench/README.md` for what each scenario does.\n\n";
    if (meta_.is_object()) {
      md_ << "- Date: " << meta_.value("date", std::string("?")) << "\n";
      md_ << "- Berth: " << meta_.value("berth_version", std::string("?")) << "; registry:2: "
          << meta_.value("registry_version", std::string("?")) << "\n";
      md_ << "- Sizes: blob " << blobLabel() << ", chunk " << meta_.value("chunk_label", std::string("?"))
          << ", small images " << metaValue("small_images", "?") << " (16 workers), request load "
          << metaValue("load_seconds", "?") << " s × " << metaValue("load_conns", "?") << " connections, "
          << metaValue("tags", "?") << " tags, " << metaValue("repos", "?") << " repositories\n";
      if (!ran("suite")) {
        std::string groups;
        for (auto& g : meta_["groups"]) groups += (groups.empty() ? "" : " ") + g.get<std::string>();
        md_ << "- **Partial run** (`bench/run.sh " << groups << "`): only those scenarios; the others read \"not run\"\n";
      }
    }
  }

  void writeMachine() {
    bool known = machine_.is_object();
    md_ << "\n## Machine limits (measured in the same run)\n\n";
    md_ << "| limit | value |\n| --- | --- |\n";
    md_ << "| CPU | " << (known ? machine_.value("cpu", std::string("?")) : "?") << ", "
        << (known ? machine_.value("cores", 0) : 0) << " cores |\n";
    if (!ran("suite")) return;  // the other limits are measured with the suite only
    md_ << "| SHA-256, one core (`openssl speed -evp sha256`, 16 KiB blocks) | "
        << fmtAuto(numberAt(machine_, "sha256_mib_s")) << " MiB/s |\n";
    md_ << "| Disk write, fresh 1 GiB file (`dd bs=1M conv=fsync`) | " << fmtAuto(numberAt(machine_, "dd_fsync_mib_s"))
        << " MiB/s |\n";
    md_ << "| Loopback TCP, one connection (`berth_bench loopback`) | " << fmtAuto(numberAt(machine_, "loopback_mib_s"))
        << " MiB/s |\n";
    md_ << "| Push limit = min(SHA-256 one core, disk) | " << (push_limit_ > 0 ? fmtAuto(push_limit_) : "—")
        << " MiB/s (70% = " << (push_limit_ > 0 ? fmtAuto(0.7 * push_limit_) : "—") << ") |\n";
  }

  void writeResults() {
    md_ << "\n## Results\n\n";
    md_ << "Ratio is berth / registry:2. Throughput: higher is better; latency, CPU and memory: lower is better.\n\n";
    const std::string hdr =
        "| scenario | registry:2 | berth | ratio | target | met? |\n| --- | ---: | ---: | ---: | --- | --- |\n";
    if (ran("suite")) writeSuiteTables(hdr);
    if (hasCrowdResults(*this)) writeCrowdTables(*this, hdr);
    if (hasRemoteResults(dir_)) writeRemoteTables(*this, dir_);
    if (hasVirtualResults(dir_)) writeVirtualTables(*this, dir_);
    if (hasLifecycleResults(dir_)) writeLifecycleTables(*this, dir_);
    md_ << "\nTargets met: " << met << ", missed: " << missed << ", unknown: " << unknown << ".\n";
  }

  // Whether the run included a group of scenarios (bench/run.sh's arguments); runs from before
  // the groups existed ran everything.
  bool ran(const std::string& group) const {
    if (!meta_.is_object() || !meta_.contains("groups") || !meta_["groups"].is_array()) return true;
    for (auto& g : meta_["groups"])
      if (g.is_string() && g.get<std::string>() == group) return true;
    return false;
  }

  void writeSuiteTables(const std::string& hdr) {
    const std::string blob = blobLabel();
    const std::string pl = push_limit_ > 0 ? fmtAuto(0.7 * push_limit_) : "?";
    using enum Row::Goal;

    md_ << "### Large blobs (" << blob << ")\n\n" << hdr;
    row({"Push monolithic (POST + one PUT), MiB/s", "push_mono", "mib_s", kHigher, 2.5,
         "≥ 2.5× and ≥ " + pl + " MiB/s (70% of limit)", true});
    row({"Push chunked (POST, PATCH × n, PUT), MiB/s", "push_chunked", "mib_s", kHigher, 2.5,
         "≥ 2.5× and ≥ " + pl + " MiB/s (70% of limit)", true});
    row({"Push monolithic, server CPU-s/GiB", "push_mono", "server_cpu_s_per_gib", kInfo, 0, "—"});
    row({"Push chunked, server CPU-s/GiB", "push_chunked", "server_cpu_s_per_gib", kInfo, 0, "—"});
    row({"Pull, 1 client, MiB/s", "pull_1", "mib_s", kHigher, 1.0, "≥ 1×"});
    row({"Pull, 1 client, server CPU-s/GiB", "pull_1", "server_cpu_s_per_gib", kLower, 0.5, "≤ 0.5×"});
    row({"Pull, 4 parallel clients (aggregate), MiB/s", "pull_4", "mib_s", kHigher, 1.0, "≥ 1×"});
    row({"Pull, 4 parallel, server CPU-s/GiB", "pull_4", "server_cpu_s_per_gib", kLower, 0.5, "≤ 0.5×"});

    md_ << "\n### Small-image push storm\n\n" << hdr;
    row({"Images/s (3 × 4 KiB layers + config + manifest, 16 workers)", "small_images", "images_per_s", kHigher, 3.0,
         "≥ 3×"});
    row({"Requests/s during the storm", "small_images", "req_per_s", kInfo, 0, "—"});
    row({"Server CPU-s per 1,000 requests", "small_images", "server_cpu_s_per_1k_req", kInfo, 0, "—"});

    md_ << "\n### Request load (" << metaValue("load_conns", "64") << " connections)\n\n" << hdr;
    struct LoadScenario {
      std::string label, file;
    };
    for (const LoadScenario& l :
         {LoadScenario{"Manifest GET by tag", "manifest_get_tag"},
          LoadScenario{"Manifest HEAD by digest", "manifest_head_digest"},
          LoadScenario{"Blob HEAD, present", "blob_head_present"},
          LoadScenario{"Blob HEAD, absent (404)", "blob_head_absent"}}) {
      row({l.label + ", req/s", l.file, "rps", kHigher, 5.0, "≥ 5×"});
      row({l.label + ", p50 ms", l.file, "p50_ms", kInfo, 0, "—"});
      row({l.label + ", p99 ms", l.file, "p99_ms", kLower, 1.0, "≤ 1× (no worse)"});
      row({l.label + ", server CPU-s / 1k req", l.file, "server_cpu_s_per_1k_req", kInfo, 0, "—"});
    }

    md_ << "\n### Listing\n\n" << hdr;
    row({"Tags list, " + metaValue("tags", "10000") + " tags, full list p50 ms", "tags_list", "walk.p50_ms", kLower,
         0.5, "≤ 0.5×"});
    row({"Tags list, full list p99 ms", "tags_list", "walk.p99_ms", kInfo, 0, "—"});
    row({"Tags list, pages per full list", "tags_list", "pages_per_walk", kInfo, 0, "—"});
    row({"Catalog page (n=1000), " + metaValue("repos", "2000") + " repos, p50 ms", "catalog", "page.p50_ms", kLower,
         0.5, "≤ 0.5×"});
    row({"Catalog page p99 ms", "catalog", "page.p99_ms", kInfo, 0, "—"});
    row({"Catalog first page p50 ms", "catalog", "first_page.p50_ms", kInfo, 0, "—"});
    row({"Catalog later pages p50 ms", "catalog", "later_pages.p50_ms", kInfo, 0, "—"});
    row({"Catalog pages per full walk", "catalog", "pages_per_walk", kInfo, 0, "—"});

    md_ << "\n### Memory (peak RSS, MiB)\n\n" << hdr;
    row({"During " + blob + " monolithic upload", "rss", "push_mono_mib", kHigher, 0, "< 64 MiB", false, true});
    row({"During " + blob + " chunked upload", "rss", "push_chunked_mib", kHigher, 0, "< 64 MiB", false, true});
    row({"During " + blob + " pulls", "rss", "pull_mib", kInfo, 0, "—"});
    row({"During the request storm (small images + request load)", "rss", "storm_mib", kHigher, 0, "< 64 MiB", false,
         true});
    row({"Idle after start", "rss", "idle_mib", kInfo, 0, "—"});
  }

  // Observations drawn from the raw results, then the failures the tables pointed at.
  void writeNotes() {
    md_ << "\n## Notes\n\n";
    writeCrowdNotes(*this);
    writeRemoteNotes(*this, dir_);
    writeVirtualNotes(*this, dir_);
    writeLifecycleNotes(*this, dir_);
    for (auto side : {std::string("registry"), std::string("berth")}) {
      std::string nm = side == "registry" ? "registry:2" : "berth";
      json tl = result(side, "tags_list"), cat = result(side, "catalog"), sr = result(side, "seed_repos"),
           st = result(side, "seed_tags"), tp = result(side, "tags_list_paged");
      if (errorOf(tl).empty())
        md_ << "- " << nm << " tags list: " << tl.value("items", 0) << " tags in " << tl.value("pages_per_walk", 0)
            << " page(s) per full list (request without `n`; largest page " << tl.value("max_page_bytes", 0)
            << " bytes); " << (tl.value("sorted", false) ? "lexically sorted" : "**not** sorted") << ".\n";
      if (errorOf(tp).empty())
        md_ << "- " << nm << " tags list with `n=" << tp.value("n", 0) << "`: " << tp.value("items", 0) << " tags in "
            << tp.value("pages_per_walk", 0) << " page(s)"
            << (tp.value("pages_per_walk", 0) <= 1 && tp.value("items", 0) > tp.value("n", 0) ? " (`n` ignored)" : "")
            << ".\n";
      if (errorOf(cat).empty())
        md_ << "- " << nm << " catalog with n=" << cat.value("n", 1000) << ": " << cat.value("items", 0)
            << " repositories in " << cat.value("pages_per_walk", 0) << " pages per walk"
            << (cat.value("empty_last_page", false) ? " (the last page was empty: a `Link: rel=\"next\"` was sent with "
                                                      "nothing after it)"
                                                    : "")
            << ".\n";
      if (errorOf(sr).empty())
        md_ << "- " << nm << " seeding " << sr.value("repos", 0) << " repositories took "
            << fmtAuto(numberAt(sr, "seconds")) << " s (" << sr.value("blobs_mounted", 0) << " blobs cross-mounted).\n";
      if (errorOf(st).empty())
        md_ << "- " << nm << " seeding " << st.value("tags", 0) << " tags took " << fmtAuto(numberAt(st, "seconds"))
            << " s.\n";
    }
    md_ << "- Peak RSS is VmHWM from /proc/PID/status, reset through /proc/PID/clear_refs before each scenario, "
           "and VmRSS sampled every 10 ms; CPU is utime+stime from /proc/PID/stat around the measured part of each "
           "scenario (10 ms resolution). The load tool runs on the same 2 cores as the server.\n";
    md_ << "- registry:2 ran with its stock in-memory blob-descriptor cache and `log.level: error`, at which it still "
           "logs every 404 (absent blob HEAD) as an error line; Berth ran with `log.level: warn`, no access log.\n";
    md_ << "- Blob bodies are an 8 MiB pseudo-random pattern repeated (hashed by the client before the timed part); "
           "the page cache is warm for pulls.\n";
    if (!failures_.empty()) {
      md_ << "\n¹ Failures:\n\n";
      for (auto& f : failures_) md_ << "- " << f << "\n";
    }
  }

  void writeRaw() {
    md_ << "\n<details><summary>Raw results (JSON)</summary>\n\n```\n";
    md_ << "machine " << (machine_.is_null() ? "null" : machine_.dump()) << "\n";
    for (auto side : {std::string("registry"), std::string("berth"), std::string("remote"), std::string("virtual"),
                      std::string("lifecycle")}) {
      if (!fs::exists(dir_ / side)) continue;
      std::vector<fs::path> files;
      for (auto& e : fs::directory_iterator(dir_ / side))
        if (e.path().extension() == ".json") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (auto& p : files) {
        json j = loadJson(p);
        md_ << side << "/" << p.stem().string() << " " << (j.is_null() ? "null" : j.dump()) << "\n";
      }
    }
    md_ << "```\n\n</details>\n";
  }

  fs::path dir_;
  json meta_, machine_;
  double push_limit_ = 0;
  std::ostringstream md_;
  std::vector<std::string> failures_;
};

}  // namespace

json cmdReport(const Args& a) {
  fs::path dir = a.need("dir");
  std::string out = a.need("out");
  Report report(dir);
  std::string md = report.markdown();
  std::ofstream f(out);
  f << md;
  if (!f) fail("cannot write " + out);
  return {{"report", out}, {"met", report.met}, {"missed", report.missed}, {"unknown", report.unknown}};
}

}  // namespace berth_bench

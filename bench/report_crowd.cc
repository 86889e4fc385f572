// The report's sections for bench/scenarios_crowd.cc: idle and slow connections held
// open beside the manifest-GET load, and that load while clients push large blobs.

#include <string>
#include <vector>

#include "report.h"

namespace berth_bench::report {

namespace {

const std::vector<std::string> kFiles = {"crowd_idle", "crowd_slow", "push_load"};
const std::vector<std::string> kSides = {"registry", "berth"};

std::string sideName(const std::string& side) { return side == "registry" ? "registry:2" : "berth"; }

// A value of the run (Berth's result first), for headings.
std::string runValue(const Tables& t, const std::string& file, const std::string& key) {
  for (auto side : {"berth", "registry"})
    if (auto v = numberAt(t.result(side, file), key)) return fmtAuto(v);
  return "?";
}

Row info(const std::string& label, const std::string& file, const std::string& key) {
  return {label, file, key, Row::kInfo, 0, "—"};
}

// A JSON object of counts ({"503": 12}) as "503: 12, closed: 3".
std::string counts(const json& j) {
  std::string s;
  if (!j.is_object()) return s;
  for (auto& [k, v] : j.items()) s += (s.empty() ? "" : ", ") + k + ": " + v.dump();
  return s;
}

bool ran(const Tables& t, const std::string& file) {
  for (auto& side : kSides)
    if (!t.result(side, file).is_null()) return true;
  return false;
}

// "1 GiB", "64 MiB" for a byte count in the results.
std::string sizeLabel(const Tables& t, const std::string& file, const std::string& key) {
  for (auto side : {"berth", "registry"})
    if (auto v = numberAt(t.result(side, file), key))
      return *v >= GiB ? fmtAuto(*v / GiB) + " GiB" : fmtAuto(*v / MiB) + " MiB";
  return "?";
}

void crowdRows(Tables& t, const std::string& f) {
  t.row(info("Crowd connections open when the load started", f, "open_at_load_start"));
  t.row(info("… still open when it ended", f, "open_at_end"));
  t.row(info("… refused (connect failed, error answer, closed before ready)", f, "refused"));
  t.row(info("… cut by the server by the end of the load", f, "cut_by_end"));
  t.row(info("Manifest GET req/s, no crowd", f, "base.ok_rps"));
  t.row(info("Manifest GET req/s, with the crowd", f, "with.ok_rps"));
  Row pct{"… with the crowd, % of its own without", f, "rps_pct_of_base", Row::kHigher, 0, "berth ≥ 80%"};
  pct.berth_min = 80;
  t.row(pct);
  t.row(info("Manifest GET p99 ms, no crowd", f, "base.p99_ms"));
  t.row(info("Manifest GET p99 ms, with the crowd", f, "with.p99_ms"));
  Row errors{"Manifest GETs failed with the crowd (errors + other status)", f, "errors", Row::kLower, 0, "berth 0"};
  errors.berth_max = 0;
  t.row(errors);
  t.row(info("Server RSS before the crowd, MiB", f, "rss_before_mib"));
  t.row({"Server RSS with the crowd, MiB", f, "rss_with_crowd_mib", Row::kLower, 1.0, "< registry:2 (≤ 1×)"});
  t.row(info("Server peak RSS during the load with the crowd, MiB", f, "rss_peak_during_load_mib"));
  t.row(info("Server memory per open crowd connection, bytes", f, "bytes_per_conn"));
}

}  // namespace

bool hasCrowdResults(const Tables& t) {
  for (auto& f : kFiles)
    if (ran(t, f)) return true;
  return false;
}

void writeCrowdTables(Tables& t, const std::string& hdr) {
  auto& md = t.md();
  if (ran(t, "crowd_idle")) {
    md << "\n### Idle connections (" << runValue(t, "crowd_idle", "crowd_size")
       << " keep-alive connections, each answered once, then the manifest GET load)\n\n"
       << hdr;
    crowdRows(t, "crowd_idle");
  }
  if (ran(t, "crowd_slow")) {
    md << "\n### Slow clients (" << runValue(t, "crowd_slow", "crowd_at_end.slow_headers.requested")
       << " trickling request headers + " << runValue(t, "crowd_slow", "crowd_at_end.slow_bodies.requested")
       << " trickling upload bodies, then the manifest GET load)\n\n"
       << hdr;
    crowdRows(t, "crowd_slow");
    t.row(info("Seconds from the crowd's first trickle to the end of the load", "crowd_slow",
               "measured_end_after_crowd_start_s"));
  }
  if (!ran(t, "push_load")) return;
  md << "\n### Manifest GET while " << runValue(t, "push_load", "pushes") << " clients each push "
     << sizeLabel(t, "push_load", "push_bytes") << " (monolithic)\n\n"
     << hdr;
  const std::string f = "push_load";
  t.row(info("Manifest GET p99 ms, no pushes", f, "base.p99_ms"));
  t.row(info("Manifest GET p99 ms, during the pushes", f, "with.p99_ms"));
  Row ratio{"… during / without", f, "p99_ratio", Row::kLower, 0, "berth ≤ 3×"};
  ratio.berth_max = 3;
  t.row(ratio);
  t.row(info("Manifest GET req/s, no pushes", f, "base.ok_rps"));
  t.row(info("Manifest GET req/s, during the pushes", f, "with.ok_rps"));
  t.row(info("Manifest GETs failed during the pushes", f, "errors"));
  t.row(info("Seconds measured (while the pushes ran)", f, "with.seconds"));
  t.row(info("Pushes completed", f, "pushes_ok"));
  t.row(info("Pushes, aggregate MiB/s", f, "push_aggregate_mib_s"));
}

// Every round's figure, when a scenario ran more than one (BENCH_CROWD_ROUNDS): the table shows the median round.
void roundsNote(std::ostream& md, const std::string& nm, Tables& t, const std::string& side) {
  std::string parts;
  auto add = [&](const char* file, const char* what, const char* key, const char* unit) {
    json j = t.result(side, file);
    if (!errorOf(j).empty() || j.value("rounds", 1) < 2 || !j.contains(key)) return;
    std::string list;
    for (const auto& v : j[key]) list += (list.empty() ? "" : ", ") + fmtAuto(v.get<double>()) + unit;
    parts += std::string(parts.empty() ? "" : "; ") + what + " " + list;
  };
  add("crowd_idle", "idle crowd, throughput with / without", "rounds_rps_pct_of_base", "%");
  add("crowd_slow", "slow crowd, throughput with / without", "rounds_rps_pct_of_base", "%");
  add("push_load", "p99 during pushes / without", "rounds_p99_ratio", "x");
  if (!parts.empty()) md << "- " << nm << " rounds (the tables show the median one): " << parts << ".\n";
}

void writeCrowdNotes(Tables& t) {
  if (!hasCrowdResults(t)) return;
  auto& md = t.md();
  for (auto& side : kSides) {
    std::string nm = sideName(side);
    for (auto f : {std::string("crowd_idle"), std::string("crowd_slow")}) {
      json j = t.result(side, f);
      if (!errorOf(j).empty()) continue;
      json end = j.value("crowd_at_end", json::object());
      md << "- " << nm << " " << (f == "crowd_idle" ? "idle" : "slow") << " crowd: " << j.value("open_at_load_start", 0)
         << " of " << j.value("crowd_size", 0) << " open when the load started (opened in "
         << fmtAuto(numberAt(j, "setup_s")) << " s)";
      if (j.value("capped", false))
        md << ", **capped** from " << j.value("requested", 0) << " to fit the tool's descriptor limit ("
           << j.value("nofile_limit", 0) << ")";
      for (auto kind : {"idle", "slow_headers", "slow_bodies"}) {
        if (!end.contains(kind)) continue;
        const json& k = end[kind];
        md << "; " << kind << ": refused " << k.value("refused", 0);
        if (!counts(k.value("refused_status", json::object())).empty())
          md << " (status " << counts(k["refused_status"]) << ")";
        md << ", cut " << k.value("cut", 0);
        if (k.value("cut", 0) > 0)
          md << " (" << counts(k["cut_how"]) << "; first at " << fmtAuto(numberAt(k, "first_cut_s")) << " s)";
        if (k.value("no_answer", 0) > 0) md << ", no answer " << k.value("no_answer", 0);
      }
      if (f == "crowd_slow")
        md << "; one header line every " << fmtAuto(numberAt(j, "header_interval_s")) << " s, bodies at "
           << fmtAuto(numberAt(j, "body_bytes_per_s")) << " B/s; the load ended "
           << fmtAuto(numberAt(j, "measured_end_after_crowd_start_s")) << " s after the first trickle";
      md << ". The tool: peak RSS " << fmtAuto(numberAt(j, "client_max_rss_mib")) << " MiB, CPU "
         << fmtAuto(numberAt(j, "client_cpu_s")) << " s for the whole scenario (the crowd's thread "
         << fmtAuto(numberAt(j, "crowd_thread_cpu_s")) << " s)";
      if (j.value("client_errors", 0) > 0) md << ", **" << j.value("client_errors", 0) << " client-side failures**";
      if (!j.value("server_alive", true)) md << "; **the server was gone at the end**";
      md << ".\n";
      if (j.contains("first_error"))
        md << "  - first failed manifest GET with the crowd: `" << j["first_error"].get<std::string>().substr(0, 160)
           << "`\n";
    }
    roundsNote(md, nm, t, side);
    json p = t.result(side, "push_load");
    if (errorOf(p).empty()) {
      md << "- " << nm << " pushes during the load: " << p.value("pushes_ok", 0) << " of " << p.value("pushes", 0)
         << " completed, the last after " << fmtAuto(numberAt(p, "with.seconds")) << " s of measured load";
      if (p.value("pushes_outlasted_load", false)) md << " (**the load stopped first**, at its time limit)";
      if (p.contains("push_errors")) md << "; push errors: `" << p["push_errors"].dump().substr(0, 200) << "`";
      md << ".\n";
    }
  }
  md << "- Crowds: one thread of `berth_bench` with one epoll set holds every crowd connection (non-blocking "
        "sockets); they come from source addresses 127.1.0.1, 127.1.0.2, … ("
     << runValue(t, "crowd_idle", "per_source")
     << " per address), so a per-client connection limit sees them as many clients, while the load's connections "
        "come from 127.0.0.1. The tool, its crowd and the server share the same cores, so the load's figures with a "
        "crowd include the tool's own work on the crowd. Refused = the connect failed, the first request (GET `/v2/`, "
        "or POST of an upload for a slow body) was answered with an error, or the server closed it before that; cut "
        "= the server ended it afterwards (closed it, or answered a request that never finished, e.g. 408).\n";
  md << "- Server memory per crowd connection = (VmRSS with the crowd open − VmRSS before it) / connections open; "
        "each VmRSS is read 1 s after the load before it (or the crowd) settled. The load with the crowd counts only "
        "200 answers towards its req/s and p99.\n";
  md << "- Manifest GET during pushes: the load's measured part runs from 1 s after the pushes start until the last "
        "one is acknowledged; each push is POST + one PUT streaming its whole body (as `push_mono`).\n";
}

}  // namespace berth_bench::report

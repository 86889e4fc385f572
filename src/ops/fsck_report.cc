// `berth fsck`'s output: text lines or JSON, and the exit code.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ops/fsck.h"

namespace berth::ops {
namespace {

const char* severityName(FsckSeverity s) { return s == FsckSeverity::Error ? "error" : "warning"; }

// What a problem names, as one word: repo/image@digest, repo/image:tag, a digest or a path.
std::string subject(const FsckProblem& p) {
  std::string image = p.repo.empty() ? "" : p.image.empty() ? p.repo : p.repo + "/" + p.image;
  if (!image.empty() && !p.tag.empty()) return image + ":" + p.tag;
  if (!image.empty() && !p.digest.empty()) return image + "@" + p.digest;
  if (!image.empty()) return image;
  if (!p.digest.empty()) return p.digest;
  return p.path;
}

std::string bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string formatFsckText(const FsckReport& r) {
  std::string out;
  for (const auto& p : r.problems) {
    std::string message = p.message;
    std::replace(message.begin(), message.end(), '\n', ' ');  // one line per problem, whatever a parser said
    out += std::string(severityName(p.severity)) + " " + p.kind + " " + subject(p) + ": " + message;
    // A blob file's path, when the subject does not say where it is.
    if (!p.path.empty() && subject(p) != p.path) out += " [" + p.path + "]";
    out += "\n";
  }
  const auto& s = r.stats;
  out += "fsck: ";
  out += r.errors() == 0 && r.warnings() == 0 ? "no problems"
                                               : plural(r.errors(), "error", "errors") + ", " +
                                                     plural(r.warnings(), "warning", "warnings");
  out += "; checked " + plural(s.blob_links, "blob link", "blob links") + ", " +
         plural(s.manifests, "manifest", "manifests") + ", " + plural(s.tags, "tag", "tags") + ", " +
         plural(s.blob_files, "blob file", "blob files");
  out += r.quick ? " (contents not hashed: --quick)" : " (" + bytes(s.bytes_hashed) + " hashed)";
  if (s.unreferenced_blobs)
    out += "; " + plural(s.unreferenced_blobs, "blob", "blobs") + " (" + bytes(s.unreferenced_bytes) +
           ") referenced by nothing, left for garbage collection";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", s.seconds);
  out += std::string("; ") + secs + " s\n";
  return out;
}

std::string formatFsckJson(const FsckReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    nlohmann::json j{{"severity", severityName(p.severity)}, {"kind", p.kind}, {"message", p.message}};
    for (auto [name, value] : {std::pair<const char*, const std::string*>{"repository", &p.repo},
                               {"image", &p.image},
                               {"digest", &p.digest},
                               {"tag", &p.tag},
                               {"reference", &p.reference},
                               {"path", &p.path}})
      if (!value->empty()) j[name] = *value;
    problems.push_back(std::move(j));
  }
  const auto& s = r.stats;
  nlohmann::json doc{
      {"clean", r.errors() == 0},
      {"exit_code", r.exitCode()},
      {"errors", r.errors()},
      {"warnings", r.warnings()},
      {"problems", std::move(problems)},
      {"checked",
       {{"blob_links", s.blob_links},
        {"manifests", s.manifests},
        {"tags", s.tags},
        {"blob_files", s.blob_files},
        {"bytes_hashed", s.bytes_hashed}}},
      {"unreferenced", {{"blobs", s.unreferenced_blobs}, {"bytes", s.unreferenced_bytes}}},
      {"quick", r.quick},
      {"seconds", s.seconds},
  };
  return doc.dump(2) + "\n";
}

int runFsck(const config::Config& cfg, const FsckOptions& options, bool json) {
  RepoTypes repos;
  for (const auto& r : cfg.repositories) repos[r.key] = r.type;
  Result<FsckReport> report = [&]() -> Result<FsckReport> {
    try {
      return checkStore(cfg.storage.root, repos, options);
    } catch (const std::exception& e) {  // out of memory, say: still "could not run"
      return fail(ErrorCode::Unknown, e.what());
    }
  }();
  if (!report) {
    std::string why = "cannot check " + cfg.storage.root + ": " + report.error().message;
    std::cerr << "berth fsck: " << why << "\n";
    if (json) std::cout << nlohmann::json{{"clean", false}, {"exit_code", 2}, {"error", why}}.dump(2) << "\n";
    return 2;
  }
  std::cout << (json ? formatFsckJson(*report) : formatFsckText(*report)) << std::flush;
  return report->exitCode();
}

}  // namespace berth::ops

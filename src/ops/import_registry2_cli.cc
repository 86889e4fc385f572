#include "ops/import_registry2_cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "berth/config.h"
#include "ops/import_registry2.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::ops {
namespace {

using Clock = std::chrono::steady_clock;

const char* kUsage =
    "usage: berth import-registry2 --root DIR --into REPO_KEY [--config FILE]\n"
    "  Imports a registry:2 filesystem storage (DIR holds docker/registry/v2) into the\n"
    "  local repository REPO_KEY of the configured storage; Berth may be running.\n";

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::string count(const ImportCount& c, const std::string& imported_extra = "") {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%llu imported%s, %llu already in Berth, %llu skipped",
                static_cast<unsigned long long>(c.imported), imported_extra.c_str(),
                static_cast<unsigned long long>(c.present), static_cast<unsigned long long>(c.skipped));
  return buf;
}

void printReport(const ImportReport& r, const std::string& source, const std::string& key, double seconds) {
  char extra[128], rate[128];
  std::snprintf(extra, sizeof extra, " (%llu hard-linked, %llu copied; %.1f MiB)",
                static_cast<unsigned long long>(r.hard_linked), static_cast<unsigned long long>(r.copied),
                mib(r.bytes));
  double s = seconds > 0 ? seconds : 1e-9;
  std::snprintf(rate, sizeof rate, "%.0f blobs/s, %.1f MiB/s (imported blobs over the whole run)",
                static_cast<double>(r.blobs.imported) / s, mib(r.bytes) / s);
  std::printf("imported %s into repository '%s' in %.2f s\n", source.c_str(), key.c_str(), seconds);
  std::printf("  images      %s\n", count(r.images).c_str());
  std::printf("  blobs       %s\n", count(r.blobs, extra).c_str());
  std::printf("  blob links  %s\n", count(r.links).c_str());
  std::printf("  manifests   %s\n", count(r.manifests).c_str());
  std::printf("  tags        %s\n", count(r.tags).c_str());
  std::printf("  rate        %s\n", rate);
  if (!r.skipped.empty()) {
    std::printf("skipped (%zu):\n", r.skipped.size());
    for (const auto& line : r.skipped) std::printf("  %s\n", line.c_str());
  }
  std::fflush(stdout);
}

// One line on stderr, rewritten in place at most ten times a second.
class ProgressLine {
 public:
  void operator()(const ImportReport& r) {
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    std::fprintf(stderr, "\r\33[K[%zu/%zu] %s  blobs %llu (%.1f MiB)  manifests %llu  tags %llu  skipped %zu",
                 r.image_index, r.image_total, r.current.c_str(),
                 static_cast<unsigned long long>(r.blobs.imported + r.blobs.present), mib(r.bytes),
                 static_cast<unsigned long long>(r.manifests.imported + r.manifests.present),
                 static_cast<unsigned long long>(r.tags.imported + r.tags.present), r.skipped.size());
    std::fflush(stderr);
  }
  static void clear() { std::fprintf(stderr, "\r\33[K"); }

 private:
  Clock::time_point last_{};
};

}  // namespace

int runImportRegistry2(const std::vector<std::string>& args, std::string config_path) {
  std::string root, key;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--root" && has_value) root = args[++i];
    else if (a == "--into" && has_value) key = args[++i];
    else if (a == "--config" && has_value) config_path = args[++i];
    else if (a == "--help" || a == "-h") return std::cout << kUsage, 0;
    else return std::cerr << "berth import-registry2: unknown argument '" << a << "'\n" << kUsage, 2;
  }
  if (root.empty() || key.empty()) return std::cerr << kUsage, 2;

  // The stores log through spdlog: keep stdout for the report.
  spdlog::set_default_logger(spdlog::stderr_color_mt("import-registry2"));
  spdlog::set_level(spdlog::level::warn);
  try {
    auto cfg = config_path.empty() ? config::loadDefault() : config::loadFromFile(config_path);
    const config::Repository* repo = nullptr;
    for (const auto& r : cfg.repositories)
      if (r.key == key) repo = &r;
    if (!repo) return std::cerr << "berth import-registry2: no repository '" << key << "' in the configuration\n", 1;
    if (repo->type != config::RepoType::Local)
      return std::cerr << "berth import-registry2: repository '" << key << "' is not a local repository\n", 1;
    auto source = Registry2Layout::open(root);
    if (!source) return std::cerr << "berth import-registry2: " << root << ": " << source.error().message << "\n", 1;

    // What this writes must be the daemon's to use: a root-owned 0600
    // metadata.db would keep a Berth running as uid 999 from starting.
    struct stat root_st {};
    if (::stat(cfg.storage.root.c_str(), &root_st) == 0 && root_st.st_uid != ::geteuid())
      return std::cerr << "berth import-registry2: the storage root " << cfg.storage.root << " belongs to uid "
                       << root_st.st_uid << ", not to this user (uid " << ::geteuid()
                       << "): run the import as the user Berth runs as (sudo -u, or docker run --user "
                       << root_st.st_uid << ":" << root_st.st_gid << ")\n",
             1;
    // A daemon may be running on this storage: its temp files stay (false),
    // and SQLite's WAL and busy timeout let both processes write.
    storage::Paths paths(cfg.storage.root);
    storage::FsBlobStore blobs(paths, false);
    storage::SqliteMetadataStore meta(paths.metadataDb(), cfg.storage.metadata_sync == "normal"
                                                              ? storage::SyncMode::Normal
                                                              : storage::SyncMode::Full);
    Registry2Importer importer(*source, paths, blobs, meta, key);
    bool tty = ::isatty(STDERR_FILENO) == 1;
    ProgressLine line;
    auto start = Clock::now();
    ImportReport report = importer.run(tty ? Registry2Importer::Progress(std::ref(line)) : Registry2Importer::Progress());
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (tty) ProgressLine::clear();
    printReport(report, source->v2(), key, seconds);
    return report.skipped.empty() ? 0 : 3;
  } catch (const std::exception& e) {
    std::cerr << "berth import-registry2: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace berth::ops

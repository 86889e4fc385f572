// Garbage collection (the `lifecycle` group, bench/run_lifecycle.sh): a store of many small
// blobs written straight into registry:2's filesystem layout (so that both servers collect the
// same content: Berth gets it through `berth import-registry2`), a collector run measured
// online (Berth's POST /api/system/storage/gc) or as a process of its own (registry:2's
// `garbage-collect`, `berth gc`), and a check of what a run left on disk.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "data.h"
#include "measure.h"
#include "net.h"
#include "registry_api.h"

namespace berth_bench {

namespace fs = std::filesystem;

namespace {

void writeFile(const fs::path& p, std::string_view data) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) fail("cannot write " + p.string());
}

std::string hexOf(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// registry:2's filesystem layout under ROOT/docker/registry/v2.
class Registry2Writer {
 public:
  explicit Registry2Writer(const fs::path& root) : v2_(root / "docker/registry/v2") {}

  void blob(const std::string& digest, std::string_view data) {
    std::string hex = hexOf(digest);
    writeFile(v2_ / "blobs/sha256" / hex.substr(0, 2) / hex / "data", data);
    bytes_ += data.size();
  }
  void layerLink(const std::string& repo, const std::string& digest) {
    writeFile(v2_ / "repositories" / repo / "_layers/sha256" / hexOf(digest) / "link", digest);
  }
  void manifest(const std::string& repo, const std::string& tag, const Image& img) {
    blob(img.manifest_digest, img.manifest);
    auto m = v2_ / "repositories" / repo / "_manifests";
    writeFile(m / "revisions/sha256" / hexOf(img.manifest_digest) / "link", img.manifest_digest);
    writeFile(m / "tags" / tag / "current/link", img.manifest_digest);
    writeFile(m / "tags" / tag / "index/sha256" / hexOf(img.manifest_digest) / "link", img.manifest_digest);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  fs::path v2_;
  uint64_t bytes_ = 0;
};

// Every regular file's name below `dir` (Berth: blobs/sha256/xx/<hex>) or its parent directory's
// name (registry:2: blobs/sha256/xx/<hex>/data): the digests a blob store holds.
std::set<std::string> storedHexes(const fs::path& dir, bool registry2) {
  std::set<std::string> out;
  if (!fs::exists(dir)) fail("no such directory " + dir.string());
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = registry2 ? e.path().parent_path().filename().string() : e.path().filename().string();
    if (name.size() == 64) out.insert(name);
  }
  return out;
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot read " + path);
  std::vector<std::string> v;
  for (std::string l; std::getline(f, l);)
    if (!l.empty()) v.push_back(l);
  return v;
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

json cmdSeedRegistry2(const Args& a) {
  fs::path root = a.need("root");
  int images = static_cast<int>(a.num("images", 4500));
  int layers = static_cast<int>(a.num("layers", 18));
  int garbage = static_cast<int>(a.num("garbage", 10000));
  int garbage_per_image = static_cast<int>(a.num("garbage-per-image", 20));
  size_t size = a.size("blob-size", 1 * KiB);
  std::string prefix = a.str("prefix", "bench/gc/app-");
  if (images < 1 || images > 1000000 || layers < 1 || layers > 1000 || garbage < 0 || garbage_per_image < 1)
    fail("bad --images/--layers/--garbage/--garbage-per-image");
  if ((garbage + garbage_per_image - 1) / garbage_per_image > images) fail("more garbage than images can hold");
  std::ofstream referenced(a.need("referenced-list")), garbage_list(a.need("garbage-list"));

  auto t0 = Clock::now();
  Registry2Writer w(root);
  uint64_t ref_count = 0, garbage_count = 0;
  for (int i = 0; i < images; ++i) {
    std::string repo = prefix + zeroPadded(i, 6);
    Image img = makeImage(static_cast<uint64_t>(a.num("seed", 5000)) * 1000000ULL + static_cast<uint64_t>(i), layers,
                          size, true);
    auto put = [&](const Blob& b) {
      w.blob(b.digest, b.data);
      w.layerLink(repo, b.digest);
      referenced << hexOf(b.digest) << "\n";
    };
    for (auto& l : img.layers) put(l);
    put(img.config);
    w.manifest(repo, "v1", img);
    referenced << hexOf(img.manifest_digest) << "\n";
    ref_count += static_cast<uint64_t>(layers) + 2;
    // Garbage: layers uploaded into the image whose manifest never came (or was deleted):
    // linked in `_layers`, referenced by no manifest.
    for (int g = 0; g < garbage_per_image && static_cast<int>(garbage_count) < garbage; ++g) {
      std::string data = randomBytes(0x6a7bULL * 1000000007ULL + garbage_count, size);
      std::string d = sha256Of(data);
      w.blob(d, data);
      w.layerLink(repo, d);
      garbage_list << hexOf(d) << "\n";
      ++garbage_count;
    }
    if (i % 500 == 499) logProgress("seed-registry2: " + std::to_string(i + 1) + " images");
  }
  if (!referenced || !garbage_list) fail("cannot write the digest lists");
  return {{"scenario", "seed-registry2"},
          {"images", images},
          {"layers", layers},
          {"blob_size", size},
          {"referenced", ref_count},
          {"garbage", garbage_count},
          {"blobs", ref_count + garbage_count},
          {"bytes", w.bytes()},
          {"seconds", secondsSince(t0)}};
}

json cmdGc(const Args& a) {
  Target t = parseTarget(a.need("target"));
  bool dry = a.flag("dry-run", false);
  std::string target = std::string("/api/system/storage/gc") + (dry ? "?dryRun=true" : "");
  Conn c(t);
  expectRegistry(c);
  MeasuredWindow window(serverPid(a));
  Resp r = c.send({.method = "POST", .target = target});
  auto m = window.finish();
  expectStatus(r, 200, "POST " + target);
  json answer = json::parse(r.body);
  json j = {{"scenario", "gc"}, {"seconds", m.seconds}, {"answer", answer}};
  addServerProbe(j, m.server, "server_cpu_s_per_run", 1);
  return j;
}

// A command as a process of its own (`sh -c CMD`): wall time, CPU and peak RSS from wait4 (the
// largest of the process and its waited-for children), output to --log.
json cmdRunMeasured(const Args& a) {
  std::string cmd = a.need("cmd"), log = a.str("log", "/dev/null");
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) < 0) fail(std::string("wait4: ") + std::strerror(errno));
  double wall = secondsSince(t0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != 0 && !a.flag("allow-fail", false)) fail("exit " + std::to_string(code) + ": " + cmd + " (see " + log + ")");
  return {{"scenario", "run-measured"},
          {"exit_code", code},
          {"seconds", wall},
          {"cpu_s", seconds(ru.ru_utime) + seconds(ru.ru_stime)},
          {"peak_rss_kib", ru.ru_maxrss}};
}

GcLoop::GcLoop(const Target& t) : target_(t) {
  thread_ = std::thread([this] {
    uint64_t runs = 0, busy = 0, freed = 0, freed_bytes = 0;
    std::vector<double> run_us;
    std::string error;
    try {
      Conn c(target_);
      while (!stop_) {
        auto s = Clock::now();
        Resp r = c.send({.method = "POST", .target = "/api/system/storage/gc"});
        if (r.status == 503) {
          ++busy;
          continue;
        }
        expectStatus(r, 200, "POST /api/system/storage/gc");
        run_us.push_back(micros(s, Clock::now()));
        json ans = json::parse(r.body);
        ++runs;
        freed += ans.value("blobs", uint64_t{0});
        freed_bytes += ans.value("bytes", uint64_t{0});
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    result_ = {{"runs", runs}, {"busy", busy}, {"freed_blobs", freed}, {"freed_bytes", freed_bytes},
               {"run_latency", latencyStats(run_us)}};
    if (!error.empty()) result_["error"] = error;
  });
}

GcLoop::~GcLoop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

json GcLoop::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return result_;
}

// What a collector left: every referenced blob still there, no garbage left.
json cmdCheckStore(const Args& a) {
  bool registry2 = a.str("layout", "berth") == "registry2";
  fs::path dir = a.need("blobs");
  auto stored = storedHexes(dir, registry2);
  uint64_t ref_present = 0, ref_missing = 0, garbage_left = 0;
  auto refs = readLines(a.need("referenced-list")), garbage = readLines(a.need("garbage-list"));
  for (auto& h : refs) ++(stored.count(h) ? ref_present : ref_missing);
  for (auto& h : garbage) garbage_left += stored.count(h);
  return {{"scenario", "check-store"},
          {"layout", registry2 ? "registry2" : "berth"},
          {"files", stored.size()},
          {"referenced", refs.size()},
          {"referenced_present", ref_present},
          {"referenced_missing", ref_missing},
          {"garbage", garbage.size()},
          {"garbage_left", garbage_left},
          {"as_expected", ref_missing == 0 && garbage_left == 0}};
}

}  // namespace berth_bench

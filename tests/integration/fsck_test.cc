// `berth fsck` on stores a real daemon built: clean, then damaged in each way
// fsck knows, each reported with its kind; fsck changes nothing on disk; it
// runs beside a daemon that is serving (and pushing), and after a kill -9.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {
namespace fs = std::filesystem;

// Every entry below root (directories too) with what a write would change.
struct EntryState {
  bool dir = false;
  uint64_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  mode_t mode = 0;
  bool operator==(const EntryState&) const = default;
};
using Listing = std::map<std::string, EntryState>;

Listing listing(const std::string& root) {
  Listing out;
  auto stamp = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    out[fs::relative(it->path(), root).string()] = {S_ISDIR(st.st_mode), static_cast<uint64_t>(st.st_size),
                                                    stamp(st.st_mtim), stamp(st.st_ctim), st.st_mode};
  }
  return out;
}

std::string describeDifference(const Listing& a, const Listing& b) {
  std::string out;
  for (const auto& [path, state] : a)
    if (!b.count(path)) out += "removed " + path + "\n";
    else if (!(b.at(path) == state)) out += "changed " + path + "\n";
  for (const auto& [path, state] : b)
    if (!a.count(path)) out += "added " + path + "\n";
  return out;
}

void flipByte(const std::string& path, std::size_t offset) {
  std::string bytes = readFile(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x01);
  writeFile(path, bytes);
}

class FsckTest : public RegistryTest {
 protected:
  // docker-local/app: "1" (OCI, 2 layers), "2" (Docker, sharing image 1's
  // first layer), "multi" (an index over two images); docker-dev/app: a
  // mount of image 1's first layer and its own tagged image.
  void buildStore() {
    one_ = makeImage(mt::kOciManifest, 2);
    local_.pushImage(one_, "1");
    two_ = makeImage(mt::kDockerManifest, 1);
    two_.layers[0] = one_.layers[0];
    nlohmann::json doc{{"schemaVersion", 2},
                       {"mediaType", mt::kDockerManifest},
                       {"config", descriptorOf(mt::kDockerConfig, two_.config)},
                       {"layers", {descriptorOf(mt::kDockerLayer, one_.layers[0])}}};
    two_.manifest = Manifest::of(mt::kDockerManifest, doc);
    local_.pushImage(two_, "2");
    child_a_ = makeImage();
    child_b_ = makeImage();
    local_.pushImage(child_a_);
    local_.pushImage(child_b_);
    index_ = makeIndex({child_a_.manifest, child_b_.manifest});
    ASSERT_EQ(local_.putManifest("multi", index_).status, 201);
    ASSERT_EQ(dev_.mount(one_.layers[0].digest, "docker-local/app").status, 201);
    dev_image_ = makeImage();
    dev_.pushImage(dev_image_, "dev");
  }

  void stopDaemon() {
    http_.close();
    ASSERT_EQ(daemon_.stop(), 0);
  }

  CommandResult fsckRaw(const std::vector<std::string>& extra = {}, const std::string& config = {}) {
    std::vector<std::string> args{"fsck", "--config", config.empty() ? daemon_.configPath() : config};
    args.insert(args.end(), extra.begin(), extra.end());
    return runBerth(args);
  }

  // Runs fsck --json (plus extra), expects exit_code, returns the report.
  nlohmann::json fsck(int exit_code, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = fsckRaw(args);
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    auto report = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(report.is_object()) << r.out;
    if (report.is_object()) {
      EXPECT_EQ(report.value("exit_code", -1), exit_code);
    }
    return report;
  }

  // The problems of that kind, as "repository/image@digest" (or :tag, or the path).
  static std::vector<std::string> named(const nlohmann::json& report, const std::string& kind) {
    std::vector<std::string> out;
    for (const auto& p : report["problems"]) {
      if (p["kind"] != kind) continue;
      std::string repo_image = p.contains("repository") ? p.value("repository", "") + "/" + p.value("image", "") : "";
      if (p.contains("tag")) out.push_back(repo_image + ":" + p.value("tag", ""));
      else if (!repo_image.empty()) out.push_back(repo_image + "@" + p.value("digest", ""));
      else if (p.contains("digest")) out.push_back(p.value("digest", ""));
      else out.push_back(p.value("path", ""));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::set<std::string> kinds(const nlohmann::json& report) {
    std::set<std::string> out;
    for (const auto& p : report["problems"]) out.insert(p.value("kind", ""));
    return out;
  }

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((daemon_.storageRoot() + "/metadata.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    std::string why = err ? err : "";
    sqlite3_free(err);
    EXPECT_EQ(rc, SQLITE_OK) << why;
    EXPECT_EQ(sqlite3_changes(db), 1) << statement;
    sqlite3_close(db);
  }

  // Damages the stopped store, runs fsck and checks that fsck changed nothing.
  nlohmann::json damagedReport(const std::function<void()>& damage, int exit_code = 1,
                               const std::vector<std::string>& extra = {}) {
    buildStore();
    stopDaemon();
    damage();
    Listing before = listing(daemon_.storageRoot());
    auto report = fsck(exit_code, extra);
    EXPECT_EQ(describeDifference(before, listing(daemon_.storageRoot())), "") << "fsck changed the store";
    return report;
  }

  std::string local(const std::string& digest) const { return "docker-local/app@" + digest; }
  std::string dev(const std::string& digest) const { return "docker-dev/app@" + digest; }

  Image one_, two_, child_a_, child_b_, dev_image_;
  Manifest index_;
};

using Names = std::vector<std::string>;

TEST_F(FsckTest, CleanStoreHasNoProblemsAndIsNotTouched) {
  buildStore();
  stopDaemon();
  Listing before = listing(daemon_.storageRoot());
  // A daemon stopped cleanly leaves no -wal: fsck must not create one either.
  ASSERT_FALSE(before.count("metadata.db-wal"));
  auto report = fsck(0);
  EXPECT_EQ(report["problems"], nlohmann::json::array()) << report.dump(2);
  EXPECT_EQ(report["clean"], true);
  EXPECT_EQ(report["checked"]["manifests"], 6);  // 5 in docker-local, 1 in docker-dev
  EXPECT_EQ(report["checked"]["tags"], 4);
  EXPECT_GE(report["checked"]["blob_links"], 12);
  EXPECT_GT(report["checked"]["bytes_hashed"], 0);
  EXPECT_EQ(report["unreferenced"]["blobs"], 0);
  EXPECT_EQ(fsck(0, {"--quick"})["checked"]["bytes_hashed"], 0);
  auto text = fsckRaw();
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out.rfind("fsck: no problems; checked", 0), 0u) << text.out;
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 1) << text.out;
  EXPECT_EQ(describeDifference(before, listing(daemon_.storageRoot())), "") << "fsck changed the store";
}

TEST_F(FsckTest, TruncatedBlob) {
  auto report = damagedReport([&] { fs::resize_file(blobPath(one_.layers[0].digest), 10); });
  const auto& d = one_.layers[0].digest;
  // Linked to app (pushed) and docker-dev (mounted).
  EXPECT_EQ(named(report, "blob_size"), (Names{dev(d), local(d)}));
  EXPECT_EQ(named(report, "blob_digest"), Names{d});
  EXPECT_EQ(kinds(report), (std::set<std::string>{"blob_size", "blob_digest"})) << report.dump(2);
}

TEST_F(FsckTest, FlippedByteIsFoundUnlessQuick) {
  auto report = damagedReport([&] { flipByte(blobPath(one_.layers[1].digest), 100); });
  EXPECT_EQ(named(report, "blob_digest"), Names{one_.layers[1].digest});
  EXPECT_EQ(report["problems"].size(), 1u) << report.dump(2);
  EXPECT_EQ(report["problems"][0]["path"], "blobs/sha256/" + one_.layers[1].digest.substr(7, 2) + "/" +
                                               one_.layers[1].digest.substr(7));
  // --quick reads no blob's content: the size is right, nothing to see.
  EXPECT_EQ(fsck(0, {"--quick"})["problems"], nlohmann::json::array());
  auto text = fsckRaw();
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("error blob_digest " + one_.layers[1].digest + ": its content hashes to sha256:"),
            std::string::npos) << text.out;
  EXPECT_NE(text.out.find("fsck: 1 error, 0 warnings"), std::string::npos) << text.out;
}

TEST_F(FsckTest, DeletedBlobFile) {
  auto report = damagedReport([&] { fs::remove(blobPath(one_.layers[0].digest)); }, 1, {"--quick"});
  const auto& d = one_.layers[0].digest;
  EXPECT_EQ(named(report, "blob_missing"), (Names{dev(d), local(d)}));
  EXPECT_EQ(kinds(report), std::set<std::string>{"blob_missing"}) << report.dump(2);
}

TEST_F(FsckTest, DeletedManifestFile) {
  auto report = damagedReport([&] { fs::remove(blobPath(one_.manifest.digest)); });
  EXPECT_EQ(named(report, "manifest_missing"), Names{local(one_.manifest.digest)});
  EXPECT_EQ(kinds(report), std::set<std::string>{"manifest_missing"}) << report.dump(2);
}

TEST_F(FsckTest, CorruptManifestBytes) {
  // Found with --quick too: manifests are always read, hashed and parsed.
  auto report = damagedReport([&] { flipByte(blobPath(child_a_.manifest.digest), 5); }, 1, {"--quick"});
  EXPECT_EQ(named(report, "manifest_digest"), Names{local(child_a_.manifest.digest)});
  EXPECT_EQ(kinds(report), std::set<std::string>{"manifest_digest"}) << report.dump(2);
  // Hashing every file finds the same file: it is reported once, as the manifest.
  EXPECT_EQ(kinds(fsck(1)), std::set<std::string>{"manifest_digest"});
}

TEST_F(FsckTest, ManifestThatNoLongerParses) {
  // Valid JSON of the right digest, wrong for its row's media type: what a
  // row rewritten by hand, or a bug, would leave.
  Blob not_a_manifest = Blob::of("{\"schemaVersion\": 1}");
  auto report = damagedReport([&] {
    writeFile(blobPath(not_a_manifest.digest), not_a_manifest.bytes);
    sql("UPDATE manifests SET digest='" + not_a_manifest.digest + "', size=" +
        std::to_string(not_a_manifest.bytes.size()) + " WHERE repo='docker-dev' AND digest='" +
        dev_image_.manifest.digest + "'");
    sql("UPDATE tags SET digest='" + not_a_manifest.digest + "' WHERE repo='docker-dev' AND tag='dev'");
  });
  EXPECT_EQ(named(report, "manifest_invalid"), Names{dev(not_a_manifest.digest)});
  EXPECT_EQ(kinds(report), std::set<std::string>{"manifest_invalid"}) << report.dump(2);
}

TEST_F(FsckTest, TagPointingNowhere) {
  const std::string nowhere = "sha256:" + std::string(64, '0');
  auto report = damagedReport([&] { sql("UPDATE tags SET digest='" + nowhere + "' WHERE tag='2'"); });
  EXPECT_EQ(named(report, "tag_dangling"), Names{"docker-local/app:2"});
  EXPECT_EQ(report["problems"][0]["reference"], nowhere);
  EXPECT_EQ(kinds(report), std::set<std::string>{"tag_dangling"}) << report.dump(2);
}

TEST_F(FsckTest, MissingAndUnrecordedReferences) {
  auto report = damagedReport([&] {
    sql("DELETE FROM blob_links WHERE repo='docker-local' AND digest='" + two_.config.digest + "'");
    sql("DELETE FROM manifests WHERE repo='docker-local' AND digest='" + child_b_.manifest.digest + "'");
    sql("DELETE FROM manifest_refs WHERE parent='" + one_.manifest.digest + "' AND child='" +
        one_.layers[1].digest + "'");
  });
  Names missing{local(index_.digest), local(two_.manifest.digest)};
  std::sort(missing.begin(), missing.end());
  EXPECT_EQ(named(report, "reference_missing"), missing) << report.dump(2);
  std::set<std::string> references;
  for (const auto& p : report["problems"]) references.insert(p.value("reference", ""));
  EXPECT_EQ(references, (std::set<std::string>{two_.config.digest, child_b_.manifest.digest, one_.layers[1].digest}));
  EXPECT_EQ(named(report, "reference_unrecorded"), Names{local(one_.manifest.digest)});
  EXPECT_EQ(kinds(report), (std::set<std::string>{"reference_missing", "reference_unrecorded"})) << report.dump(2);
}

TEST_F(FsckTest, StrayAndStaleFilesAreWarnings) {
  const std::string root = daemon_.storageRoot();
  const std::string misplaced = std::string(64, 'f');
  auto report = damagedReport(
      [&] {
        auto age = [](const std::string& path, int64_t seconds) {
          timespec times[2] = {{::time(nullptr) - seconds, 0}, {::time(nullptr) - seconds, 0}};
          ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
        };
        writeFile(root + "/blobs/sha256/ab/notes.txt", "x");
        writeFile(root + "/blobs/sha256/00/" + misplaced, "x");
        writeFile(root + "/tmp/0123456789abcdef", "old");
        age(root + "/tmp/0123456789abcdef", 2 * 86400);
        writeFile(root + "/tmp/fresh", "being written");
        writeFile(root + "/uploads/01234567-89ab-cdef-0123-456789abcdef", "abandoned");
        age(root + "/uploads/01234567-89ab-cdef-0123-456789abcdef", 3 * 86400);
      },
      0);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["clean"], true);
  EXPECT_EQ(named(report, "stray_file"), (Names{"blobs/sha256/00/" + misplaced, "blobs/sha256/ab/notes.txt"}));
  EXPECT_EQ(named(report, "stale_temp"), (Names{"tmp/0123456789abcdef", "uploads/01234567-89ab-cdef-0123-456789abcdef"}));
  for (const auto& p : report["problems"]) EXPECT_EQ(p["severity"], "warning");
  auto text = fsckRaw();
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("warning stray_file blobs/sha256/ab/notes.txt: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("fsck: 0 errors, 4 warnings"), std::string::npos) << text.out;
}

TEST_F(FsckTest, RepositoryMissingFromTheConfigIsAWarning) {
  buildStore();
  stopDaemon();
  std::string config = readFile(daemon_.configPath());
  auto at = config.find("  - {key: docker-dev");
  ASSERT_NE(at, std::string::npos) << config;
  config.erase(at, config.find('\n', at) + 1 - at);
  writeFile(daemon_.dir() + "/only-local.yml", config);
  auto r = fsckRaw({"--json"}, daemon_.dir() + "/only-local.yml");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(kinds(report), std::set<std::string>{"repository_unconfigured"}) << report.dump(2);
  EXPECT_EQ(report["problems"][0]["repository"], "docker-dev");
}

TEST_F(FsckTest, RepositoriesCreatedThroughTheApiAreConfiguredOnes) {
  Request create;
  create.method = "PUT";
  create.target = "/api/repositories/docker-team";
  create.body = R"({"rclass":"local"})";
  ASSERT_EQ(http_.send(create).status, 200);
  ImageClient team{http_, "/v2/docker-team/app"};
  team.pushImage(makeImage(), "1");
  stopDaemon();
  auto report = fsck(0);
  EXPECT_EQ(report["problems"], nlohmann::json::array()) << report.dump(2);
  EXPECT_EQ(report["checked"]["manifests"], 1);
}

TEST_F(FsckTest, CouldNotRunIsExitCodeTwo) {
  stopDaemon();
  const std::string dir = daemon_.dir();
  writeFile(dir + "/nowhere.yml", "storage: {root: \"" + dir + "/no-such-root\"}\nrepositories: []\n");
  auto r = fsckRaw({"--json"}, dir + "/nowhere.yml");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("berth fsck: cannot check"), std::string::npos) << r.err;
  auto report = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(report["exit_code"], 2) << r.out;
  EXPECT_TRUE(report["error"].is_string());
  EXPECT_FALSE(fs::exists(dir + "/no-such-root")) << "fsck must not create the root";

  fs::create_directories(dir + "/garbage/blobs/sha256");
  writeFile(dir + "/garbage/metadata.db", std::string(8192, 'x'));
  writeFile(dir + "/garbage.yml", "storage: {root: \"" + dir + "/garbage\"}\nrepositories: []\n");
  EXPECT_EQ(fsckRaw({}, dir + "/garbage.yml").exit_code, 2);

  writeFile(dir + "/broken.yml", "storage: [unclosed\n");
  EXPECT_EQ(fsckRaw({}, dir + "/broken.yml").exit_code, 2);
  EXPECT_EQ(runBerth({"fsck", "--config", daemon_.configPath(), "--bogus"}).exit_code, 2);
}

TEST_F(FsckTest, RunsBesideARunningDaemonThatIsPushing) {
  buildStore();
  auto report = fsck(0);
  EXPECT_EQ(report["problems"], nlohmann::json::array()) << report.dump(2);
  // Pushes, retags and deletes go on while fsck runs again and again.
  std::atomic<bool> stop{false};
  std::atomic<int> pushed{0};
  std::thread writer([&] {
    HttpClient http = newClient();
    ImageClient app(http, "/v2/docker-local/churn");
    for (int i = 0; !stop; ++i) {
      auto image = makeImage(mt::kOciManifest, 2);
      app.pushImage(image, "t" + std::to_string(i % 3));
      if (i % 2) app.deleteManifest(image.manifest.digest);
      ++pushed;
    }
  });
  for (int i = 0; i < 5; ++i) {
    auto during = fsck(0, i % 2 ? std::vector<std::string>{"--quick"} : std::vector<std::string>{});
    EXPECT_EQ(during["errors"], 0) << during.dump(2);
  }
  stop = true;
  writer.join();
  EXPECT_GT(pushed.load(), 0);
  // The daemon still works (fsck left SQLite's files usable), and stops cleanly.
  local_.pushImage(makeImage(), "after");
  EXPECT_EQ(local_.getManifest("after").status, 200);
  stopDaemon();
  EXPECT_EQ(fsck(0)["problems"], nlohmann::json::array());
}

TEST_F(FsckTest, AfterKill9TheStoreIsClean) {
  buildStore();
  http_.close();
  daemon_.kill9();
  // The WAL is left behind: fsck reads through it, writing neither it nor
  // the database (only SQLite's shared-memory index, -shm, may change; and
  // running as root, SQLite's fchown of the -wal to its own owner touches
  // the inode's ctime).
  auto without_shm = [&] {
    auto l = listing(daemon_.storageRoot());
    l.erase("metadata.db-shm");
    if (::geteuid() == 0 && l.count("metadata.db-wal")) l["metadata.db-wal"].ctime_ns = 0;
    return l;
  };
  Listing before = without_shm();
  ASSERT_TRUE(before.count("metadata.db-wal"));
  EXPECT_EQ(fsck(0)["problems"], nlohmann::json::array());
  EXPECT_EQ(describeDifference(before, without_shm()), "") << "fsck changed the store";
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
  auto got = local_.getManifest("multi");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, index_.bytes);
}

}  // namespace
}  // namespace berth::it

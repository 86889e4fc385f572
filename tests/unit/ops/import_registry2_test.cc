// The registry:2 importer on hand-made registry:2 trees, with the real blob
// and metadata stores (the integration tests use trees written by
// docker-registry itself).
#include "ops/import_registry2.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "ops/gc.h"
#include "storage/root_lock.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::ops {
namespace {

namespace fs = std::filesystem;
using berth::testing::countFiles;
using berth::testing::TempDir;
using nlohmann::json;

void write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A registry:2 tree under <dir>/docker/registry/v2.
struct Tree {
  std::string v2;
  Digest blob(const std::string& bytes) {
    Digest d = Sha256::of(bytes);
    write(v2 + "/blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex() + "/data", bytes);
    return d;
  }
  void link(const std::string& repo, const std::string& where, const Digest& d) {
    write(v2 + "/repositories/" + repo + "/" + where + "/sha256/" + d.hex() + "/link", d.str());
  }
  void tag(const std::string& repo, const std::string& tag, const Digest& d) {
    write(v2 + "/repositories/" + repo + "/_manifests/tags/" + tag + "/current/link", d.str());
  }
  // An OCI image of one layer in repo, linked as registry:2 links a push.
  Digest image(const std::string& repo, const std::string& layer) {
    Digest config = blob("{}"), l = blob(layer);
    json m{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
           {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config.str()}, {"size", 2}}},
           {"layers", json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"digest", l.str()},
                                     {"size", layer.size()}}})}};
    link(repo, "_layers", config);
    link(repo, "_layers", l);
    Digest d = blob(m.dump());
    link(repo, "_manifests/revisions", d);
    return d;
  }
  Digest index(const std::string& repo, const std::vector<Digest>& children, const std::string& type) {
    json list = json::array();
    for (const auto& c : children) list.push_back({{"mediaType", type}, {"digest", c.str()}, {"size", 1}});
    Digest d = blob(json{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                         {"manifests", list}}.dump());
    link(repo, "_manifests/revisions", d);
    return d;
  }
};

struct Berth {
  TempDir dir;
  storage::Paths paths{dir.path()};
  storage::FsBlobStore blobs{paths};
  storage::SqliteMetadataStore meta{paths.metadataDb()};
  ImportReport run(const Registry2Layout& layout) {
    Registry2Importer importer(layout, paths, blobs, meta, "docker-local");
    return importer.run();
  }
};

TEST(Registry2Layout, FindsNestedRepositoriesAndReadsLinks) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  Digest d = t.image("library/alpine", "a");
  t.image("library", "b");                             // a repository with another below it
  fs::create_directories(t.v2 + "/repositories/library/_uploads/x");  // not a repository
  write(t.v2 + "/repositories/app/_layers/sha256/" + d.hex() + "/link", Sha256::of(std::string("x")).str());
  write(t.v2 + "/repositories/app/_layers/sha256/" + std::string(64, 'a') + "/link", "garbage");

  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->repositories(), (std::vector<std::string>{"app", "library", "library/alpine"}));
  auto revisions = layout->revisionLinks("library/alpine");
  ASSERT_EQ(revisions.size(), 1u);
  EXPECT_EQ(revisions[0].digest, d);
  auto bad = layout->layerLinks("app");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].problem.find("malformed"), std::string::npos);
  EXPECT_NE(bad[1].problem.find("not the digest of its directory"), std::string::npos);
  // The v2 directory itself is accepted too; an unrelated one is not.
  EXPECT_TRUE(Registry2Layout::open(t.v2));
  EXPECT_FALSE(Registry2Layout::open(src / "docker"));
}

TEST(Registry2Importer, IndexesOfIndexesGoInAfterTheirChildrenAndSharedBlobsOnce) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  Digest img = t.image("app", "layer");
  Digest inner = t.index("app", {img}, "application/vnd.oci.image.manifest.v1+json");
  Digest outer = t.index("app", {inner}, "application/vnd.oci.image.index.v1+json");
  t.tag("app", "nested", outer);
  t.image("other", "layer");  // the same layer and config again
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_TRUE(r.skipped.empty()) << r.skipped.front();
  EXPECT_EQ(r.manifests.imported, 4u);
  EXPECT_EQ(r.tags.imported, 1u);
  EXPECT_EQ(r.blobs.imported, 5u);  // config, layer, 3 manifests (other's is app's, byte for byte)
  EXPECT_EQ(r.links.imported, 4u);  // config and layer, in each image
  EXPECT_EQ(b.meta.resolveTag("docker-local", "app", "nested")->value(), outer);
  auto rec = b.meta.manifest("docker-local", "app", outer);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(countFiles(b.dir / "tmp"), 0u);

  ImportReport again = b.run(*layout);
  EXPECT_EQ(again.blobs.imported + again.manifests.imported + again.tags.imported + again.links.imported, 0u);
  EXPECT_EQ(again.manifests.present, 4u);
  EXPECT_EQ(again.tags.present, 1u);
}

TEST(Registry2Importer, SkipsSchema1AndIndexesWithAbsentChildren) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  Digest v1 = t.blob(json{{"schemaVersion", 1}, {"name", "app"}, {"tag", "old"}, {"fsLayers", json::array()}}.dump());
  t.link("app", "_manifests/revisions", v1);
  t.tag("app", "old", v1);
  t.index("app", {Sha256::of(std::string("elsewhere"))}, "application/vnd.oci.image.manifest.v1+json");
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_EQ(r.manifests.skipped, 2u);
  EXPECT_EQ(r.tags.skipped, 1u);
  std::string all;
  for (const auto& line : r.skipped) all += line + "\n";
  EXPECT_NE(all.find("app: manifest " + v1.str() + ": unreadable"), std::string::npos) << all;
  EXPECT_NE(all.find("which is not in the repository"), std::string::npos) << all;
  EXPECT_NE(all.find("app:old: its manifest " + v1.str() + " was skipped"), std::string::npos) << all;
}

TEST(Registry2Importer, HardLinksWithoutChangingTheSource) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  t.image("app", std::string(3 << 20, 'z'));  // several reads to hash
  auto layout = Registry2Layout::open(src.path());
  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_EQ(r.hard_linked, r.blobs.imported);
  Digest layer = Sha256::of(std::string(3 << 20, 'z'));
  struct stat a {}, c {};
  ASSERT_EQ(::stat((t.v2 + "/blobs/sha256/" + layer.hex().substr(0, 2) + "/" + layer.hex() + "/data").c_str(), &a), 0);
  ASSERT_EQ(::stat(b.paths.blob(layer).c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_size, 3 << 20);
}

// --- The source tree is untrusted ---

std::string dataPath(const Tree& t, const Digest& d) {
  return t.v2 + "/blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex() + "/data";
}
std::string lines(const ImportReport& r) {
  std::string all;
  for (const auto& line : r.skipped) all += line + "\n";
  return all;
}

TEST(Registry2Importer, RefusesSymlinkedDataAndReadsNothingOutsideTheRoot) {
  TempDir src, outside;
  Tree t{src / "docker/registry/v2"};
  // A file the tree points at; its digest named by a layer link, as if it were a layer.
  std::string secret = "outside the root";
  write(outside / "secret", secret);
  Digest file_link = Sha256::of(secret);
  fs::create_directories(fs::path(dataPath(t, file_link)).parent_path());
  fs::create_symlink(outside / "secret", dataPath(t, file_link));
  // And a blob directory that is a link to a directory outside, holding a data file.
  std::string other = "in a directory outside the root";
  Digest dir_link = Sha256::of(other);
  write(outside / "dir/data", other);
  fs::create_directories(fs::path(dataPath(t, dir_link)).parent_path().parent_path());
  fs::create_directory_symlink(outside / "dir", fs::path(dataPath(t, dir_link)).parent_path());
  t.link("app", "_layers", file_link);
  t.link("app", "_layers", dir_link);
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_EQ(r.blobs.imported, 0u);
  EXPECT_EQ(r.blobs.skipped, 2u);
  EXPECT_EQ(r.links.skipped, 2u);
  EXPECT_NE(lines(r).find("blob " + file_link.str() + ": unreadable (blobs/sha256/"), std::string::npos) << lines(r);
  EXPECT_NE(lines(r).find("/data: a symbolic link (not followed)"), std::string::npos) << lines(r);
  EXPECT_NE(lines(r).find(dir_link.hex() + ": a symbolic link (not followed)"), std::string::npos) << lines(r);
  for (const auto& d : {file_link, dir_link}) EXPECT_FALSE(b.blobs.stat(d)) << d.str();
  // Nothing was linked to them either.
  struct stat st {};
  ASSERT_EQ(::stat((outside / "secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  ASSERT_EQ(::stat((outside / "dir/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(countFiles(b.dir / "tmp"), 0u);
}

TEST(Registry2Importer, FifosAreRefusedWithoutWaitingOnThem) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  Digest d = t.image("app", "layer");
  t.tag("app", "ok", d);
  // A layer link, a tag link and a data file that are FIFOs: reading one
  // would wait for a writer that never comes.
  Digest fifo_link = Sha256::of(std::string("fifo link")), fifo_data = Sha256::of(std::string("fifo data"));
  std::string layer_link = t.v2 + "/repositories/app/_layers/sha256/" + fifo_link.hex() + "/link";
  std::string tag_link = t.v2 + "/repositories/app/_manifests/tags/stuck/current/link";
  fs::create_directories(fs::path(layer_link).parent_path());
  fs::create_directories(fs::path(tag_link).parent_path());
  fs::create_directories(fs::path(dataPath(t, fifo_data)).parent_path());
  for (const auto& p : {layer_link, tag_link, dataPath(t, fifo_data)}) ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0) << p;
  t.link("app", "_layers", fifo_data);
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_EQ(r.manifests.imported, 1u);
  EXPECT_EQ(r.tags.imported, 1u);
  EXPECT_EQ(r.tags.skipped, 1u);
  EXPECT_EQ(r.blobs.skipped, 1u);
  EXPECT_EQ(r.links.skipped, 2u);
  std::string all = lines(r);
  EXPECT_NE(all.find("app: layer link " + fifo_link.hex() + ": repositories/app/_layers/sha256/" + fifo_link.hex() +
                     "/link: not a regular file (a FIFO): refused"),
            std::string::npos) << all;
  EXPECT_NE(all.find("app:stuck: repositories/app/_manifests/tags/stuck/current/link: not a regular file (a FIFO)"),
            std::string::npos) << all;
  EXPECT_NE(all.find("blob " + fifo_data.str() + ": unreadable (blobs/sha256/"), std::string::npos) << all;
}

TEST(Registry2Importer, DoesNotFollowSymlinkedDirectories) {
  TempDir src, outside;
  Tree t{src / "docker/registry/v2"};
  Tree elsewhere{outside / "docker/registry/v2"};
  // Blobs are in the root; the links that name them are outside it.
  Digest inner = t.image("staging", "inner layer");
  elsewhere.image("evil", "inner layer");
  t.image("app", "app layer");
  fs::remove_all(t.v2 + "/repositories/app/_manifests");
  fs::create_directory_symlink(t.v2 + "/repositories/staging/_manifests", t.v2 + "/repositories/app/_manifests");
  fs::create_directory_symlink(elsewhere.v2 + "/repositories/evil", t.v2 + "/repositories/evil");
  t.tag("staging", "v1", inner);
  fs::create_directories(t.v2 + "/repositories/staging/_manifests/tags");
  fs::create_directory_symlink(t.v2 + "/repositories/staging/_manifests/tags/v1",
                               t.v2 + "/repositories/staging/_manifests/tags/alias");
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  Berth b;
  ImportReport r = b.run(*layout);
  std::string all = lines(r);
  EXPECT_EQ(r.images.skipped, 1u);
  EXPECT_NE(all.find("repositories/evil: a symbolic link (not followed); nothing below it imported"),
            std::string::npos) << all;
  EXPECT_FALSE(*b.meta.imageExists("docker-local", "evil"));
  // app's manifests are a link to staging's: not read as app's.
  EXPECT_FALSE(*b.meta.manifest("docker-local", "app", inner));
  EXPECT_NE(all.find("app: manifest _manifests/revisions/sha256: repositories/app/_manifests: a symbolic link"),
            std::string::npos) << all;
  EXPECT_NE(all.find("staging:alias: a symbolic link (not followed)"), std::string::npos) << all;
  EXPECT_TRUE(*b.meta.manifest("docker-local", "staging", inner));  // the real one is imported
  EXPECT_EQ(r.tags.imported, 1u);
}

// A data file with another hard link (someone's copy of the tree made with
// cp -l) is a regular file and is imported, but copied: its other name could
// be written in place and change the blob under Berth.
TEST(Registry2Importer, CopiesADataFileWithOtherHardLinks) {
  TempDir src, other;
  Tree t{src / "docker/registry/v2"};
  t.image("app", "shared layer");
  Digest layer = Sha256::of(std::string("shared layer"));
  ASSERT_EQ(::link(dataPath(t, layer).c_str(), (other / "second-name").c_str()), 0);
  auto layout = Registry2Layout::open(src.path());
  Berth b;
  ImportReport r = b.run(*layout);
  EXPECT_TRUE(r.skipped.empty()) << lines(r);
  EXPECT_EQ(r.copied, 1u);
  EXPECT_EQ(r.hard_linked, r.blobs.imported - 1);
  EXPECT_EQ(*b.blobs.readBytes(layer, 100), "shared layer");
  struct stat a {}, c {};
  ASSERT_EQ(::stat(dataPath(t, layer).c_str(), &a), 0);
  ASSERT_EQ(::stat(b.paths.blob(layer).c_str(), &c), 0);
  EXPECT_NE(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);  // left as it was
}

// --- Beside a running daemon's garbage collector ---

// The collector runs (grace period 0) in the middle of the import, after a
// blob is installed and before it is linked: it must leave the import's
// blobs alone, and sweep in its next run.
TEST(Registry2Importer, TheCollectorDoesNotSweepWhileAnImportRuns) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  Digest m = t.image("app", std::string(1000, 'l'));
  t.tag("app", "v1", m);
  auto layout = Registry2Layout::open(src.path());
  ASSERT_TRUE(layout);

  TempDir dir;
  storage::Paths paths{dir.path()};
  auto blobs = std::make_shared<storage::FsBlobStore>(paths);
  auto meta = std::make_shared<storage::SqliteMetadataStore>(paths.metadataDb(), storage::SyncMode::Normal);
  GarbageCollector gc(paths, blobs, meta, nullptr);
  GcOptions now{0, 86400, false};
  Digest garbage = *blobs->putBytes("unreferenced: collectable at once");

  Registry2Importer importer(*layout, paths, *blobs, *meta, "docker-local");
  std::optional<GcResult> during;
  ImportReport r = importer.run([&](const ImportReport& at) {
    if (during || at.blobs.imported == 0) return;
    auto got = gc.run(now);
    ASSERT_TRUE(got) << got.error().message;
    during = *got;
  });
  ASSERT_TRUE(during);
  EXPECT_EQ(during->blobs, 0u);
  EXPECT_TRUE(blobs->stat(garbage));  // deferred, not only spared
  EXPECT_TRUE(r.skipped.empty()) << lines(r);
  for (const auto& d : {m, Sha256::of(std::string("{}")), Sha256::of(std::string(1000, 'l'))})
    EXPECT_TRUE(blobs->stat(d)) << d.str() << " was collected";

  auto after = gc.run(now);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->blobs, 1u);
  EXPECT_FALSE(blobs->stat(garbage));
}

TEST(Registry2Importer, DoesNotRunBesideAnOfflineCollector) {
  TempDir src;
  Tree t{src / "docker/registry/v2"};
  t.image("app", "layer");
  auto layout = Registry2Layout::open(src.path());
  Berth b;
  auto offline = storage::RootLock::acquire(b.paths.lockFile(), storage::RootLock::Mode::Exclusive);
  ASSERT_TRUE(offline);
  EXPECT_THROW(b.run(*layout), std::runtime_error);
  EXPECT_FALSE(*b.meta.imageExists("docker-local", "app"));
}

}  // namespace
}  // namespace berth::ops

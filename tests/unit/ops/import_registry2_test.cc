// The registry:2 importer on hand-made registry:2 trees, with the real blob
// and metadata stores (the integration tests use trees written by
// docker-registry itself).
#include "ops/import_registry2.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
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
    Registry2Importer importer(layout, paths.tmpDir(), blobs, meta, "docker-local");
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
  ASSERT_EQ(::stat(layout->blobData(layer).c_str(), &a), 0);
  ASSERT_EQ(::stat(b.paths.blob(layer).c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_size, 3 << 20);
}

}  // namespace
}  // namespace berth::ops

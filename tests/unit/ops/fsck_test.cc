// checkStore on stores built with the storage classes (the daemon-built
// stores and each kind of damage: tests/integration/fsck_test.cc).
#include "ops/fsck.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::ops {
namespace {

using berth::testing::TempDir;
const std::string kOci = "application/vnd.oci.image.manifest.v1+json";

struct Store {
  TempDir dir;
  storage::FsBlobStore blobs{storage::Paths(dir.path())};
  storage::SqliteMetadataStore meta{dir / "metadata.db"};

  Digest blob(const std::string& repo, const std::string& bytes, bool link = true) {
    Digest d = *blobs.putBytes(bytes);
    if (link) {
      EXPECT_TRUE(meta.linkBlob(repo, "app", d, bytes.size()));
    }
    return d;
  }
  // An image manifest over config and layers (descriptors as given), stored
  // as a remote's cache stores it: without asking for its references.
  Digest manifest(const std::string& repo, const nlohmann::json& config, const nlohmann::json& layers) {
    std::string bytes =
        nlohmann::json{{"schemaVersion", 2}, {"mediaType", kOci}, {"config", config}, {"layers", layers}}.dump();
    Digest d = *blobs.putBytes(bytes);
    auto parsed_refs = std::vector<Digest>{Digest::fromHex(config["digest"].get<std::string>().substr(7))};
    for (const auto& l : layers)
      if (!l.contains("urls")) parsed_refs.push_back(Digest::fromHex(l["digest"].get<std::string>().substr(7)));
    storage::ManifestWrite w;
    w.record = {repo, "app", d, kOci, bytes.size(), "", "", "", 0};
    w.blobs = parsed_refs;
    w.tag = "1";
    EXPECT_TRUE(meta.putManifest(w));
    return d;
  }
};

nlohmann::json descriptor(const std::string& media_type, const std::string& bytes) {
  return {{"mediaType", media_type}, {"digest", Sha256::of(bytes).str()}, {"size", bytes.size()}};
}

std::vector<std::string> kindsOf(const FsckReport& r) {
  std::vector<std::string> out;
  for (const auto& p : r.problems) out.push_back(p.kind);
  return out;
}

TEST(Fsck, RemoteCacheWithoutItsLayersIsComplete) {
  Store s;
  // Pulled the manifest only: the config and layer were never asked for.
  s.manifest("cache", descriptor("application/vnd.oci.image.config.v1+json", "{}"),
             nlohmann::json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", "layer bytes")}));
  auto as_remote = checkStore(s.dir.path(), {{"cache", config::RepoType::Remote}}, {});
  ASSERT_TRUE(as_remote) << as_remote.error().message;
  EXPECT_EQ(kindsOf(*as_remote), std::vector<std::string>{});
  // The same rows in a local repository are an image that cannot be pulled.
  auto as_local = checkStore(s.dir.path(), {{"cache", config::RepoType::Local}}, {});
  ASSERT_TRUE(as_local);
  EXPECT_EQ(kindsOf(*as_local), (std::vector<std::string>{"reference_missing", "reference_missing"}));
  EXPECT_EQ(as_local->exitCode(), 1);
}

TEST(Fsck, ForeignLayersNeedNotBePresent) {
  Store s;
  const std::string config = "{\"os\":\"windows\"}";
  s.blob("docker-local", config);
  auto foreign = descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "elsewhere");
  foreign["urls"] = nlohmann::json::array({"https://example.invalid/layer"});
  s.manifest("docker-local", descriptor("application/vnd.oci.image.config.v1+json", config),
             nlohmann::json::array({foreign}));
  auto r = checkStore(s.dir.path(), {{"docker-local", config::RepoType::Local}}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(kindsOf(*r), std::vector<std::string>{});
  EXPECT_EQ(r->exitCode(), 0);
}

TEST(Fsck, UnreferencedBlobsAreCountedNotReported) {
  Store s;
  s.blob("docker-local", "garbage", /*link=*/false);
  auto r = checkStore(s.dir.path(), {{"docker-local", config::RepoType::Local}}, {});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->problems.empty());
  EXPECT_EQ(r->stats.unreferenced_blobs, 1u);
  EXPECT_EQ(r->stats.unreferenced_bytes, 7u);
  EXPECT_NE(formatFsckText(*r).find("1 blob (7 B) referenced by nothing"), std::string::npos) << formatFsckText(*r);
}

// Garbage collection beside fsck: the link (or manifest row) goes, then the
// file. fsck saw the row, then no file: a second look finds no row.
TEST(Fsck, RowsRemovedDuringTheCheckAreNoProblem) {
  Store s;
  Digest layer = s.blob("docker-local", "layer");
  Digest manifest = s.manifest("docker-local", descriptor("application/vnd.oci.image.config.v1+json", "layer"),
                               nlohmann::json::array());
  ASSERT_TRUE(s.blobs.remove(layer));
  ASSERT_TRUE(s.blobs.remove(manifest));
  const RepoTypes repos{{"docker-local", config::RepoType::Local}};
  auto before = checkStore(s.dir.path(), repos, {});
  ASSERT_TRUE(before);
  EXPECT_EQ(kindsOf(*before), (std::vector<std::string>{"blob_missing", "manifest_missing"}));

  FsckOptions options;
  options.before_confirm = [&] {
    ASSERT_TRUE(s.meta.deleteImage("docker-local", "app"));
  };
  auto during = checkStore(s.dir.path(), repos, options);
  ASSERT_TRUE(during);
  EXPECT_EQ(kindsOf(*during), std::vector<std::string>{});
  EXPECT_EQ(during->stats.blob_links, 1u);  // what the first snapshot held
}

TEST(Fsck, TextNamesTagsAndImagesAndSortsErrorsFirst) {
  FsckReport r;
  FsckProblem warning{FsckSeverity::Warning, "stray_file", "", "", "", "", "blobs/sha256/ab/x", "", "not a digest name"};
  FsckProblem tag{FsckSeverity::Error, "tag_dangling", "docker-local", "app", "", "1", "", "sha256:00", "points at x"};
  r.problems = {tag, warning};
  std::string text = formatFsckText(r);
  EXPECT_EQ(text.substr(0, text.find("fsck:")),
            "error tag_dangling docker-local/app:1: points at x\n"
            "warning stray_file blobs/sha256/ab/x: not a digest name\n");
  EXPECT_NE(text.find("fsck: 1 error, 1 warning; checked 0 blob links"), std::string::npos) << text;
  auto json = nlohmann::json::parse(formatFsckJson(r));
  EXPECT_EQ(json["exit_code"], 1);
  EXPECT_EQ(json["problems"][0]["tag"], "1");
  EXPECT_FALSE(json["problems"][0].contains("digest"));  // empty fields are left out
  EXPECT_EQ(json["problems"][1]["path"], "blobs/sha256/ab/x");
}

}  // namespace
}  // namespace berth::ops

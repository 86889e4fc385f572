#include "storage/metadata_snapshot.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

using berth::testing::TempDir;

// Name -> mtime (ns) of every entry of dir.
std::map<std::string, int64_t> entries(const std::string& dir) {
  std::map<std::string, int64_t> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    ::lstat(e.path().c_str(), &st);
    out[e.path().filename().string()] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  return out;
}

void fill(SqliteMetadataStore& store) {
  Digest layer = Sha256::of(std::string("layer")), manifest = Sha256::of(std::string("manifest"));
  ASSERT_TRUE(store.linkBlob("docker-local", "app", layer, 5));
  ManifestWrite w;
  w.record = {"docker-local", "app", manifest, "application/vnd.oci.image.manifest.v1+json", 8, "", "", "", 0};
  w.blobs = {layer};
  w.tag = "1";
  ASSERT_TRUE(store.putManifest(w));
  ASSERT_TRUE(store.createUpload({"u-1", "docker-local", "app", 0, ""}));
}

void expectFilled(const MetadataSnapshot& s) {
  ASSERT_EQ(s.links.size(), 1u);
  EXPECT_EQ(s.links[0].repo, "docker-local");
  EXPECT_EQ(s.links[0].name, "app");
  EXPECT_EQ(s.links[0].digest, Sha256::of(std::string("layer")).str());
  EXPECT_EQ(s.links[0].size, 5u);
  ASSERT_EQ(s.manifests.size(), 1u);
  EXPECT_EQ(s.manifests[0].media_type, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(s.manifests[0].size, 8u);
  ASSERT_EQ(s.refs.size(), 1u);
  EXPECT_EQ(s.refs[0].kind, "blob");
  EXPECT_EQ(s.refs[0].child, s.links[0].digest);
  ASSERT_EQ(s.tags.size(), 1u);
  EXPECT_EQ(s.tags[0].tag, "1");
  EXPECT_EQ(s.tags[0].digest, s.manifests[0].digest);
  EXPECT_EQ(s.upload_ids, std::set<std::string>{"u-1"});
}

TEST(MetadataSnapshot, ReadsWhatAnOpenStoreCommitted) {
  TempDir dir;
  SqliteMetadataStore store(dir / "metadata.db");
  fill(store);
  ASSERT_TRUE(std::filesystem::exists(dir / "metadata.db-wal"));  // the store is open: its commits are in the WAL
  auto snap = readMetadataSnapshot(dir / "metadata.db");
  ASSERT_TRUE(snap) << snap.error().message;
  expectFilled(*snap);
  EXPECT_FALSE(snap->immutable);
}

TEST(MetadataSnapshot, ClosedDatabaseIsReadWithoutCreatingOrChangingAFile) {
  TempDir dir;
  {
    SqliteMetadataStore store(dir / "metadata.db");
    fill(store);
  }
  auto before = entries(dir.path());
  ASSERT_FALSE(before.count("metadata.db-wal"));
  auto snap = readMetadataSnapshot(dir / "metadata.db");
  ASSERT_TRUE(snap) << snap.error().message;
  expectFilled(*snap);
  EXPECT_TRUE(snap->immutable);
  EXPECT_EQ(entries(dir.path()), before);
}

TEST(MetadataSnapshot, PathWithUriCharacters) {
  TempDir dir;
  const std::string odd = dir / "a?b#c%20d e";
  std::filesystem::create_directory(odd);
  {
    SqliteMetadataStore store(odd + "/metadata.db");
    fill(store);
  }
  auto snap = readMetadataSnapshot(odd + "/metadata.db");
  ASSERT_TRUE(snap) << snap.error().message;
  expectFilled(*snap);
  EXPECT_EQ(std::filesystem::directory_iterator(dir.path())->path(), odd);  // nothing made beside it
}

TEST(MetadataSnapshot, MissingDatabaseIsUnavailableAndNotCreated) {
  TempDir dir;
  auto snap = readMetadataSnapshot(dir / "metadata.db");
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().code, ErrorCode::Unavailable);
  EXPECT_NE(snap.error().message.find(dir / "metadata.db"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(MetadataSnapshot, OtherDatabaseIsNotBerths) {
  TempDir dir;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "other.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto snap = readMetadataSnapshot(dir / "other.db");
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().code, ErrorCode::Unknown);
  EXPECT_NE(snap.error().message.find("not a Berth metadata database"), std::string::npos) << snap.error().message;
}

}  // namespace
}  // namespace berth::storage

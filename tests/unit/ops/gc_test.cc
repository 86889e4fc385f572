// The garbage collector at store level (ops/gc.h): what a sweep deletes and
// keeps, the grace period, blobs held by a link alone, dry runs, blob files
// without a record, the fence with writers, upload files and empty directories.
#include "ops/gc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::ops {
namespace {

using berth::testing::TempDir;
namespace fs = std::filesystem;

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

void setMtime(const std::string& path, int64_t when) {
  struct timespec times[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

GcOptions grace(int64_t seconds, bool dry_run = false) { return {seconds, 24 * 3600, dry_run}; }

class GcTest : public ::testing::Test {
 protected:
  // Stored as a manifest would be (putBytes): a file, no record yet.
  Digest store(const std::string& bytes) {
    auto d = blobs->putBytes(bytes);
    EXPECT_TRUE(d);
    return *d;
  }
  // Stored and linked in repo/name (recorded by the link).
  Digest pushed(const std::string& repo, const std::string& name, const std::string& bytes) {
    Digest d = store(bytes);
    EXPECT_TRUE(meta->linkBlob(repo, name, d, bytes.size()));
    return d;
  }
  // A manifest of repo/name naming `layers`, stored and recorded as a PUT does.
  Digest manifestNaming(const std::string& repo, const std::string& name, const std::vector<Digest>& layers) {
    std::string bytes = "{\"manifest\":" + std::to_string(++manifests_) + "}";
    storage::ManifestWrite w;
    w.record = {repo, name, store(bytes), "application/vnd.oci.image.manifest.v1+json", bytes.size(), "", "", "", 0};
    w.blobs = layers;
    w.tag = "t" + std::to_string(manifests_);
    EXPECT_TRUE(meta->putManifest(w));
    return w.record.digest;
  }
  // Dates the blob's record `seconds` earlier, as if linked that long ago.
  void age(const Digest& d, int64_t seconds) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(paths.metadataDb().c_str(), &db), SQLITE_OK);
    std::string sql = "UPDATE blobs SET touched=touched-" + std::to_string(seconds) + " WHERE digest='" + d.str() + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  bool linked(const std::string& repo, const std::string& name, const Digest& d) {
    auto size = meta->linkedBlobSize(repo, name, d);
    EXPECT_TRUE(size);
    return size && size->has_value();
  }
  bool present(const Digest& d) { return blobs->stat(d).has_value(); }
  GcResult run(const GcOptions& o) {
    auto r = gc->run(o);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : GcResult{};
  }

  TempDir dir;
  storage::Paths paths{dir.path()};
  std::shared_ptr<storage::FsBlobStore> blobs = std::make_shared<storage::FsBlobStore>(paths);
  std::shared_ptr<storage::SqliteMetadataStore> meta =
      std::make_shared<storage::SqliteMetadataStore>(paths.metadataDb(), storage::SyncMode::Normal);
  std::shared_ptr<repo::UploadStore> uploads = std::make_shared<repo::UploadStore>(paths, meta, blobs);
  std::shared_ptr<GarbageCollector> gc = std::make_shared<GarbageCollector>(paths, blobs, meta, uploads);
  int manifests_ = 0;
};

TEST_F(GcTest, DeletesOnlyWhatNothingReferences) {
  Digest linked = pushed("local", "app", "layer linked");
  Digest image = manifestNaming("local", "app", {linked});
  Digest unlinked = pushed("local", "app", "layer unlinked, 31 bytes long");
  ASSERT_TRUE(meta->unlinkBlob("local", "app", unlinked));
  // A remote's cache records a manifest before its layers: the layer it names
  // (stored for another image, since deleted there) is kept for it.
  Digest named = pushed("other", "x", "layer named by a manifest only");
  ASSERT_TRUE(meta->unlinkBlob("other", "x", named));
  Digest manifest = manifestNaming("remote", "lib", {named});

  auto r = run(grace(0));
  EXPECT_EQ(r.blobs, 1u);
  EXPECT_EQ(r.bytes, std::string("layer unlinked, 31 bytes long").size());
  EXPECT_FALSE(present(unlinked));
  EXPECT_TRUE(present(linked));
  EXPECT_TRUE(present(named));
  EXPECT_TRUE(present(manifest));
  EXPECT_TRUE(present(image));

  // The manifest deleted, it and the layer only it named are garbage.
  ASSERT_TRUE(meta->deleteManifest("remote", "lib", manifest));
  r = run(grace(0));
  EXPECT_EQ(r.blobs, 2u);
  EXPECT_FALSE(present(manifest));
  EXPECT_FALSE(present(named));
  EXPECT_TRUE(present(linked));
}

TEST_F(GcTest, GracePeriodCountsFromTheLastInstallOrLink) {
  Digest d = pushed("local", "app", "recent");
  ASSERT_TRUE(meta->unlinkBlob("local", "app", d));
  EXPECT_EQ(run(grace(3600)).blobs, 0u);
  EXPECT_TRUE(present(d));
  EXPECT_EQ(run(grace(0)).blobs, 1u);
  EXPECT_FALSE(present(d));
}

TEST_F(GcTest, DryRunCountsAndChangesNothing) {
  Digest d = pushed("local", "app", "garbage");
  ASSERT_TRUE(meta->unlinkBlob("local", "app", d));
  Digest unrecorded = store("a file with no record");
  auto r = run(grace(0, /*dry_run=*/true));
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(r.blobs, 2u);
  EXPECT_EQ(r.bytes, std::string("garbage").size() + std::string("a file with no record").size());
  EXPECT_TRUE(present(d));
  EXPECT_TRUE(present(unrecorded));
  auto unrec = meta->unrecordedBlobs({unrecorded.hex()});
  ASSERT_TRUE(unrec);
  EXPECT_EQ(unrec->size(), 1u) << "a dry run records nothing either";
  EXPECT_EQ(run(grace(0)).blobs, 2u);
}

TEST_F(GcTest, FileWithoutRecordGetsAWholeGracePeriod) {
  // A crash between install and link, or a store older than the records:
  // however old the file, its age is unknown.
  Digest d = store("orphan from a crash");
  setMtime(paths.blob(d), now() - 30 * 24 * 3600);
  auto r = run(grace(3600));
  EXPECT_EQ(r.recorded, 1u);
  EXPECT_EQ(r.blobs, 0u);
  EXPECT_TRUE(present(d));
  EXPECT_EQ(run(grace(0)).blobs, 1u);
  EXPECT_FALSE(present(d));
}

TEST_F(GcTest, SweepWaitsForAWriterBetweenFileAndReference) {
  // A push that found the blob stored (install keeps the old file) has not
  // linked it yet: a sweep must not take it meanwhile, and the link, made
  // now, keeps it for a grace period.
  Digest d = pushed("local", "old", "shared layer");
  ASSERT_TRUE(meta->unlinkBlob("local", "old", d));
  age(d, 7200);
  std::atomic<bool> swept{false};
  std::thread sweeper;
  {
    auto writer = blobs->fence().writer();
    ASSERT_TRUE(present(d));
    sweeper = std::thread([&] {
      run(grace(3600));
      swept = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(swept);
    ASSERT_TRUE(meta->linkBlob("local", "new", d, 12));
  }
  sweeper.join();
  EXPECT_TRUE(present(d));
  EXPECT_EQ(run(grace(3600)).blobs, 0u);
}

TEST_F(GcTest, ALinkAloneKeepsABlobOnlyForTheGracePeriod) {
  // Uploaded, and the manifest never came (a client gave up, a push killed).
  Digest d = pushed("local", "app", "uploaded, never referenced");
  EXPECT_EQ(run(grace(3600)).blobs, 0u);
  EXPECT_TRUE(present(d));
  EXPECT_TRUE(linked("local", "app", d));

  age(d, 7200);
  auto r = run(grace(3600));
  EXPECT_EQ(r.blobs, 1u);
  EXPECT_EQ(r.bytes, std::string("uploaded, never referenced").size());
  EXPECT_FALSE(present(d));
  EXPECT_FALSE(linked("local", "app", d)) << "its link goes with it: a link always names a stored blob";
  auto known = meta->imageExists("local", "app");
  ASSERT_TRUE(known);
  EXPECT_FALSE(*known) << "the image held nothing else";

  // A manifest PUT that raced the sweep re-checks its links in its transaction.
  std::string bytes = "{\"late\":1}";
  storage::ManifestWrite w;
  w.record = {"local", "app", store(bytes), "application/vnd.oci.image.manifest.v1+json", bytes.size(), "", "", "", 0};
  w.blobs = {d};
  w.require_references = true;
  auto out = meta->putManifest(w);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->missing, d.str());
}

TEST_F(GcTest, ABlobAManifestReferencesKeepsItsLinksInEveryRepository) {
  // Linked in two repositories, referenced by a manifest in one: kept, and
  // the other repository's link too (a client told it exists may still
  // push a manifest naming it there).
  Digest d = pushed("local", "app", "shared");
  ASSERT_TRUE(meta->linkBlob("dev", "other", d, 6));
  manifestNaming("local", "app", {d});
  age(d, 7200);
  EXPECT_EQ(run(grace(0)).blobs, 0u);
  EXPECT_TRUE(present(d));
  EXPECT_TRUE(linked("local", "app", d));
  EXPECT_TRUE(linked("dev", "other", d));
}

TEST_F(GcTest, DryRunCountsABlobALinkAloneHolds) {
  Digest d = pushed("local", "app", "held by a link alone");
  auto r = run(grace(0, /*dry_run=*/true));
  EXPECT_EQ(r.blobs, 1u);
  EXPECT_EQ(r.bytes, std::string("held by a link alone").size());
  EXPECT_TRUE(present(d));
  EXPECT_TRUE(linked("local", "app", d));
  EXPECT_EQ(run(grace(0)).blobs, 1u);
  EXPECT_FALSE(present(d));
}

TEST_F(GcTest, ManyBlobsOverSeveralPagesAndBatches) {
  // More records than one scan page (1000) and one sweep batch (128); files
  // written directly (no fsync each) and recorded by the collector.
  std::vector<Digest> all;
  for (int i = 0; i < 2600; ++i) {
    std::string bytes = "blob " + std::to_string(i);
    Digest d = Sha256::of(bytes);
    std::ofstream(paths.blob(d)) << bytes;
    all.push_back(d);
  }
  std::vector<Digest> half;
  for (std::size_t i = 0; i < all.size(); i += 2) {
    ASSERT_TRUE(meta->linkBlob("local", "app", all[i], 6));
    half.push_back(all[i]);
  }
  Digest image = manifestNaming("local", "app", half);
  auto r = run(grace(0));
  EXPECT_EQ(r.recorded, 1300u);
  EXPECT_EQ(r.blobs, 1300u);
  EXPECT_TRUE(present(image));
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(present(all[i]), i % 2 == 0) << i;
}

TEST_F(GcTest, UploadFilesIdleBeyondTheTtlAndEmptyDirectories) {
  auto idle = uploads->start("local", "app", "u");
  auto fresh = uploads->start("local", "app", "u");
  ASSERT_TRUE(idle && fresh);
  std::string idle_path = paths.upload((*idle)->uuid()), fresh_path = paths.upload((*fresh)->uuid());
  ASSERT_TRUE(fs::exists(idle_path));
  setMtime(idle_path, now() - 25 * 3600);
  std::string orphan = paths.upload("0123456789abcdef0123456789abcdef"), new_orphan = paths.upload("feed");
  std::ofstream(orphan) << "left by a crash";
  std::ofstream(new_orphan) << "a fetch in flight";
  setMtime(orphan, now() - 25 * 3600);
  fs::create_directories(paths.uploadsDir() + "/stray/deeper");
  fs::create_directories(paths.blobsDir() + "/ab/stray");

  auto dry = run(grace(3600, true));
  EXPECT_EQ(dry.uploads, 2u);
  EXPECT_EQ(dry.directories, 3u);
  EXPECT_TRUE(fs::exists(orphan));

  auto r = run(grace(3600));
  EXPECT_EQ(r.uploads, 2u);
  EXPECT_EQ(r.directories, 3u);
  EXPECT_FALSE(fs::exists(idle_path));
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_TRUE(fs::exists(fresh_path));
  EXPECT_TRUE(fs::exists(new_orphan));
  EXPECT_FALSE(fs::exists(paths.uploadsDir() + "/stray"));
  EXPECT_FALSE(fs::exists(paths.blobsDir() + "/ab/stray"));
  EXPECT_TRUE(fs::is_directory(paths.blobsDir() + "/ab")) << "the layout's own directories stay";
  EXPECT_TRUE(fs::is_directory(paths.uploadsDir()));
}

TEST_F(GcTest, OneRunAtATimeAndCancel) {
  Digest d = pushed("local", "app", "held");
  ASSERT_TRUE(meta->unlinkBlob("local", "app", d));
  std::thread first;
  {
    // The first run waits on the fence in its sweep; a second is refused meanwhile.
    auto writer = blobs->fence().writer();
    first = std::thread([&] { run(grace(0)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto second = gc->run(grace(0));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::Unavailable);
  }
  first.join();
  gc->cancel();
  EXPECT_FALSE(gc->run(grace(0)));
}

TEST(ReferenceFenceTest, AWaitingSweepGoesBeforeNewWriters) {
  storage::ReferenceFence fence;
  std::mutex mu;
  std::vector<std::string> order;
  auto note = [&](const char* what) {
    std::lock_guard lock(mu);
    order.push_back(what);
  };
  std::thread sweep, late;
  {
    auto first = fence.writer();
    sweep = std::thread([&] {
      storage::ReferenceFence::Sweep hold(fence);
      note("sweep");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    late = std::thread([&] {
      auto w = fence.writer();
      note("writer");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(order.empty());
  }
  sweep.join();
  late.join();
  EXPECT_EQ(order, (std::vector<std::string>{"sweep", "writer"}));
}

}  // namespace
}  // namespace berth::ops
